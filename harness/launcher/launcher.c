/*
 * asyncbench-launcher: starts one measured program and reports its exit status and exact rusage.
 *
 *   asyncbench-launcher <fd> <program> <args...>
 *
 * Why it exists: on Linux, exec carries the RSS high-water mark of the address space it replaces into
 * the process's ru_maxrss. A program forked straight from the harness (tens of MB resident) would
 * therefore report the harness's RSS as its own peak. This launcher is tiny (statically linked, a few
 * hundred KB resident), so the program it forks reports its true peak, exactly as GNU time does.
 *
 * Protocol, one line at a time on <fd> (a pipe the harness created):
 *   pid <childpid>                       once the program has been exec'd
 *   error exec <errno> <message>         instead, if exec failed (launcher exits 127)
 *   exit code <n> utime_us <u> stime_us <s> maxrss_kb <k>      when the program exited, or
 *   exit signal <n> utime_us <u> stime_us <s> maxrss_kb <k>    when a signal killed it
 *
 * The program inherits stdin/stdout/stderr, the environment, the working directory, the CPU affinity
 * and the process group (the launcher is the group leader; the harness kills the group). It dies with
 * the launcher (PR_SET_PDEATHSIG). The launcher ignores SIGTERM/SIGINT: the harness signals the
 * program itself, or SIGKILLs the whole group.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int report_fd = -1;

/* Writes one line to the harness in a single write(2), so lines never interleave or split. */
static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) n = sizeof line - 1;
    while (write(report_fd, line, (size_t)n) < 0 && errno == EINTR) {}
}

static long long usecs(struct timeval t) { return (long long)t.tv_sec * 1000000 + t.tv_usec; }

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fd> <program> <args...>\n", argv[0]);
        return 2;
    }
    /* A copy above stdio (which is closed below) that the program does not inherit. */
    report_fd = fcntl(atoi(argv[1]), F_DUPFD_CLOEXEC, 3);
    if (report_fd < 0) {
        perror("asyncbench-launcher: report fd");
        return 2;
    }
    if (atoi(argv[1]) > 2) close(atoi(argv[1]));

    /* exec failures travel back on a close-on-exec pipe: EOF means the exec succeeded. */
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        report("error pipe %d %s\n", errno, strerror(errno));
        return 2;
    }
    pid_t launcher = getpid();
    pid_t child = fork();
    if (child < 0) {
        report("error fork %d %s\n", errno, strerror(errno));
        return 2;
    }
    if (child == 0) {
        close(errpipe[0]);
        /* Die with the launcher; if it already died before prctl took effect, give up now. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != launcher) _exit(127);
        execvp(argv[2], argv + 2);
        int err = errno;
        while (write(errpipe[1], &err, sizeof err) < 0 && errno == EINTR) {}
        _exit(127);
    }

    close(errpipe[1]);
    int err = 0;
    ssize_t got;
    while ((got = read(errpipe[0], &err, sizeof err)) < 0 && errno == EINTR) {}
    close(errpipe[0]);
    int status;
    struct rusage ru;
    if (got == (ssize_t)sizeof err) {
        while (wait4(child, &status, 0, &ru) < 0 && errno == EINTR) {}
        report("error exec %d %s\n", err, strerror(err));
        return 127;
    }
    report("pid %d\n", (int)child);

    /* The harness signals the program (SIGTERM) or kills the whole group (SIGKILL); a stray SIGTERM or
     * SIGINT must not take the reporter down first. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    /* Drop our copies of the program's stdio so the harness sees EOF when the program closes them,
     * and writes to a dead program's stdin fail instead of filling a pipe nobody reads. */
    close(0);
    close(1);
    close(2);

    while (wait4(child, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            report("error wait4 %d %s\n", errno, strerror(errno));
            return 2;
        }
    }
    /* ru_maxrss is in KiB on Linux and covers the program's address spaces (and those of any children
     * it reaped), never the harness's. */
    const char *how = WIFSIGNALED(status) ? "signal" : "code";
    int n = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
    report("exit %s %d utime_us %lld stime_us %lld maxrss_kb %ld\n", how, n, usecs(ru.ru_utime),
           usecs(ru.ru_stime), ru.ru_maxrss);
    return 0;
}
