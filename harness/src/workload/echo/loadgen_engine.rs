//! Which client engine drives the echo load: io_uring (batched submission, one `io_uring_enter` per
//! loop iteration) or the portable epoll loop. `auto` takes io_uring when this kernel runs it and
//! records why it fell back otherwise, so every result names the engine that produced it.
//!
//! The default is `epoll`: measured side by side (docs/METHODOLOGY.md, echo client engines), io_uring
//! was not cheaper per message in the open loop and only a few per cent in the closed loop, where more
//! than 90 % of the client's CPU is kernel TCP work that neither engine can avoid on loopback.

use std::sync::Mutex;

/// A client engine that ran (or will run) the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// One level-triggered epoll loop per client thread (`loadgen.rs`): portable to any Linux.
    Epoll,
    /// One io_uring per client thread (`loadgen_uring.rs`): sends and receives of every ready
    /// connection leave in one `io_uring_enter`.
    IoUring,
}

impl Engine {
    /// The name results and reports give this engine (the only definition of it).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Epoll => "epoll-loop",
            Engine::IoUring => "io-uring",
        }
    }
}

/// What the user asked for (`--client-engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum EngineChoice {
    /// io-uring when the kernel supports it, else epoll (the reason is recorded).
    Auto,
    IoUring,
    /// The default: portable, and measured as cheap as io_uring (see the module doc).
    #[default]
    Epoll,
}

impl EngineChoice {
    pub fn parse(s: &str) -> Option<EngineChoice> {
        match s {
            "auto" => Some(EngineChoice::Auto),
            "io-uring" => Some(EngineChoice::IoUring),
            "epoll" | "epoll-loop" => Some(EngineChoice::Epoll),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EngineChoice::Auto => "auto",
            EngineChoice::IoUring => "io-uring",
            EngineChoice::Epoll => "epoll",
        }
    }
}

/// The resolved engine and, when it is not what was asked for, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub engine: Engine,
    pub fallback_reason: Option<String>,
}

impl Selection {
    /// "io-uring", or "epoll-loop (io_uring unavailable: …)".
    pub fn describe(&self) -> String {
        match &self.fallback_reason {
            None => self.engine.name().to_string(),
            Some(r) => format!("{} ({r})", self.engine.name()),
        }
    }
}

/// Resolves a choice on this kernel. An explicit `io-uring` the kernel cannot run is an error with the
/// fix; `auto` falls back to epoll with the reason.
pub fn resolve(choice: EngineChoice) -> Result<Selection, String> {
    match choice {
        EngineChoice::Epoll => Ok(Selection {
            engine: Engine::Epoll,
            fallback_reason: None,
        }),
        EngineChoice::IoUring => match super::loadgen_uring::unsupported_reason() {
            None => Ok(Selection {
                engine: Engine::IoUring,
                fallback_reason: None,
            }),
            Some(r) => Err(format!(
                "--client-engine io-uring: {r}; use --client-engine epoll (or auto)"
            )),
        },
        EngineChoice::Auto => Ok(match super::loadgen_uring::unsupported_reason() {
            None => Selection {
                engine: Engine::IoUring,
                fallback_reason: None,
            },
            Some(r) => Selection {
                engine: Engine::Epoll,
                fallback_reason: Some(format!("io_uring unavailable: {r}")),
            },
        }),
    }
}

/// The engine a client host runs for the controller's engine `name`: the same one, except io_uring
/// where this host's kernel cannot run it (then epoll; the host's report names what ran). A spec
/// without an engine (an older controller) runs epoll, as that controller did.
pub fn on_client_host(name: &str) -> Engine {
    match EngineChoice::parse(name) {
        Some(EngineChoice::IoUring | EngineChoice::Auto) => {
            resolve(EngineChoice::Auto).map_or(Engine::Epoll, |s| s.engine)
        }
        _ => Engine::Epoll,
    }
}

/// The run's engine (set once by `run`; the default choice otherwise).
static SELECTED: Mutex<Option<Selection>> = Mutex::new(None);

/// Fixes the engine for the rest of the run.
pub fn set(selection: Selection) {
    *SELECTED.lock().unwrap_or_else(|e| e.into_inner()) = Some(selection);
}

/// The run's engine: what [`set`] fixed, else the default choice.
pub fn selected() -> Selection {
    let mut g = SELECTED.lock().unwrap_or_else(|e| e.into_inner());
    g.get_or_insert_with(|| {
        resolve(EngineChoice::default()).expect("the default choice always resolves")
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_resolve() {
        assert_eq!(EngineChoice::parse("epoll"), Some(EngineChoice::Epoll));
        assert_eq!(EngineChoice::parse("io-uring"), Some(EngineChoice::IoUring));
        assert_eq!(EngineChoice::parse("uring"), None);
        assert_eq!(EngineChoice::default(), EngineChoice::Epoll);
        assert_eq!(on_client_host(""), Engine::Epoll);
        assert_eq!(on_client_host("epoll-loop"), Engine::Epoll);
        assert_eq!(resolve(EngineChoice::Epoll).unwrap().engine, Engine::Epoll);
        let auto = resolve(EngineChoice::Auto).unwrap();
        // Auto takes io_uring exactly when the kernel supports it, and says why not otherwise.
        match super::super::loadgen_uring::unsupported_reason() {
            None => assert_eq!(auto.engine, Engine::IoUring),
            Some(r) => {
                assert_eq!(auto.engine, Engine::Epoll);
                assert!(auto.describe().contains(&r));
                assert!(resolve(EngineChoice::IoUring).is_err());
            }
        }
    }
}
