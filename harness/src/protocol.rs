//! Parsing what implementations print on stdout (see `docs/PROTOCOL.md`): JSON lines, a `ready` event
//! first, a `result` event at the end of a finite workload. Anything else is a protocol error.

use serde_json::{Map, Value};
use std::io::BufRead;

/// The longest stdout line accepted; longer lines are a protocol error rather than unbounded memory.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Why a line is not a valid protocol event.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProtocolError {
    #[error("stdout line is not JSON: {0:?}")]
    NotJson(String),
    #[error("stdout JSON line has no string \"event\" field: {0:?}")]
    NoEvent(String),
    #[error("unknown event {0:?}")]
    UnknownEvent(String),
    #[error("{event} event is missing field {field:?} or it has the wrong type")]
    MissingField {
        event: &'static str,
        field: &'static str,
    },
    #[error("stdout line longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong,
}

/// The `ready` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Ready {
    pub workload: String,
    pub port: Option<u16>,
    pub runtime: String,
    pub threads: Option<u32>,
    pub future_bytes: Option<u64>,
    /// Every field, including extra ones, for the implementation notes.
    pub fields: Map<String, Value>,
}

/// A parsed stdout line.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Ready(Ready),
    /// The `result` event's fields; each workload checks its own fields.
    Result(Map<String, Value>),
    /// `{"event":"phase","phase":…}`: the program waits on stdin for the harness to sample it. Only the
    /// `cancel` workload may send it; everywhere else it is a protocol error.
    Phase(String),
}

/// Parses one stdout line (without its newline).
pub fn parse_line(line: &str) -> Result<Event, ProtocolError> {
    let snippet = || line.chars().take(120).collect::<String>();
    let value: Value = serde_json::from_str(line).map_err(|_| ProtocolError::NotJson(snippet()))?;
    let Value::Object(fields) = value else {
        return Err(ProtocolError::NoEvent(snippet()));
    };
    let event = fields
        .get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| ProtocolError::NoEvent(snippet()))?;
    match event {
        "ready" => {
            let str_field = |f: &'static str| {
                fields
                    .get(f)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or(ProtocolError::MissingField {
                        event: "ready",
                        field: f,
                    })
            };
            let workload = str_field("workload")?;
            let runtime = str_field("runtime")?;
            let port = match fields.get("port") {
                None => None,
                Some(v) => Some(v.as_u64().and_then(|p| u16::try_from(p).ok()).ok_or(
                    ProtocolError::MissingField {
                        event: "ready",
                        field: "port",
                    },
                )?),
            };
            let threads = fields
                .get("threads")
                .and_then(Value::as_u64)
                .and_then(|t| u32::try_from(t).ok());
            let future_bytes = fields.get("future_bytes").and_then(Value::as_u64);
            Ok(Event::Ready(Ready {
                workload,
                port,
                runtime,
                threads,
                future_bytes,
                fields,
            }))
        }
        "result" => Ok(Event::Result(fields)),
        "phase" => fields
            .get("phase")
            .and_then(Value::as_str)
            .map(|p| Event::Phase(p.to_string()))
            .ok_or(ProtocolError::MissingField {
                event: "phase",
                field: "phase",
            }),
        other => Err(ProtocolError::UnknownEvent(other.to_string())),
    }
}

/// Reads one line of at most [`MAX_LINE_BYTES`]; `Ok(None)` at end of stream.
pub fn read_line_bounded(
    reader: &mut impl BufRead,
) -> std::io::Result<Result<Option<String>, ProtocolError>> {
    let mut buf = Vec::new();
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(Ok(if buf.is_empty() {
                None
            } else {
                Some(String::from_utf8_lossy(&buf).into_owned())
            }));
        }
        if let Some(pos) = chunk.iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&chunk[..pos]);
            reader.consume(pos + 1);
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Ok(Some(String::from_utf8_lossy(&buf).into_owned())));
        }
        let n = chunk.len();
        buf.extend_from_slice(chunk);
        reader.consume(n);
        if buf.len() > MAX_LINE_BYTES {
            return Ok(Err(ProtocolError::LineTooLong));
        }
    }
}

/// Reads an unsigned integer field of a result event.
pub fn u64_field(fields: &Map<String, Value>, name: &'static str) -> Result<u64, ProtocolError> {
    fields
        .get(name)
        .and_then(Value::as_u64)
        .ok_or(ProtocolError::MissingField {
            event: "result",
            field: name,
        })
}

/// Reads a numeric field of a result event.
pub fn f64_field(fields: &Map<String, Value>, name: &'static str) -> Result<f64, ProtocolError> {
    fields
        .get(name)
        .and_then(Value::as_f64)
        .ok_or(ProtocolError::MissingField {
            event: "result",
            field: name,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ready_with_extras() {
        let e = parse_line(r#"{"event":"ready","workload":"echo","port":4242,"runtime":"go1.26","threads":2,"future_bytes":128,"x":1}"#).unwrap();
        let Event::Ready(r) = e else { panic!() };
        assert_eq!(r.port, Some(4242));
        assert_eq!(r.threads, Some(2));
        assert_eq!(r.future_bytes, Some(128));
        assert_eq!(r.fields["x"], 1);
    }

    #[test]
    fn rejects_garbage_and_bad_fields() {
        assert!(matches!(
            parse_line("hello"),
            Err(ProtocolError::NotJson(_))
        ));
        assert!(matches!(
            parse_line("[1,2]"),
            Err(ProtocolError::NoEvent(_))
        ));
        assert!(matches!(
            parse_line(r#"{"event":"nope"}"#),
            Err(ProtocolError::UnknownEvent(_))
        ));
        assert!(matches!(
            parse_line(r#"{"event":"ready","workload":"echo","runtime":"x","port":70000}"#),
            Err(ProtocolError::MissingField { field: "port", .. })
        ));
        assert!(matches!(
            parse_line(r#"{"event":"ready","workload":"echo"}"#),
            Err(ProtocolError::MissingField {
                field: "runtime",
                ..
            })
        ));
    }

    #[test]
    fn result_fields() {
        let Event::Result(f) =
            parse_line(r#"{"event":"result","checksum":5,"spawn_ms":1.5}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(u64_field(&f, "checksum"), Ok(5));
        assert_eq!(f64_field(&f, "spawn_ms"), Ok(1.5));
        assert!(u64_field(&f, "tasks").is_err());
    }

    #[test]
    fn phase_events() {
        assert_eq!(
            parse_line(r#"{"event":"phase","phase":"armed"}"#),
            Ok(Event::Phase("armed".into()))
        );
        assert!(matches!(
            parse_line(r#"{"event":"phase"}"#),
            Err(ProtocolError::MissingField { field: "phase", .. })
        ));
    }

    #[test]
    fn bounded_lines() {
        let mut r = std::io::Cursor::new(b"a\r\nbb\nlast".to_vec());
        assert_eq!(read_line_bounded(&mut r).unwrap(), Ok(Some("a".into())));
        assert_eq!(read_line_bounded(&mut r).unwrap(), Ok(Some("bb".into())));
        assert_eq!(read_line_bounded(&mut r).unwrap(), Ok(Some("last".into())));
        assert_eq!(read_line_bounded(&mut r).unwrap(), Ok(None));
        let big = vec![b'x'; MAX_LINE_BYTES + 10];
        let mut r = std::io::BufReader::new(std::io::Cursor::new(big));
        assert_eq!(
            read_line_bounded(&mut r).unwrap(),
            Err(ProtocolError::LineTooLong)
        );
    }
}
