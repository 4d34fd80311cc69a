/*
 * asyncbench-launcher: starts one program, contains everything it spawns, and reports its exit status
 * and exact rusage.
 *
 *   asyncbench-launcher <fd> <program> <args...>
 *
 * Why it exists:
 * - Exact peak memory. On Linux, exec carries the RSS high-water mark of the address space it replaces
 *   into the process's ru_maxrss. A program forked straight from the harness (tens of MB resident)
 *   would therefore report the harness's RSS as its own peak. This launcher is tiny (statically
 *   linked, a few hundred KB resident), so the program it forks reports its true peak, as GNU time does.
 * - Containment. The launcher is a child subreaper (PR_SET_CHILD_SUBREAPER): anything the program
 *   starts that escapes its process group (setsid, a double-forked daemon) is re-parented to the
 *   launcher instead of init. When the program has exited (or on SIGTERM), the launcher SIGKILLs every
 *   remaining descendant and reaps it before it reports and exits, so nothing outlives a trial. Killing
 *   the process group alone misses processes that called setsid.
 * - The OOM killer picks the program: it runs with oom_score_adj 1000, so when the machine runs out of
 *   memory the kernel kills the program under test, not the harness or an unrelated process.
 *
 * Protocol, one line at a time on <fd> (a pipe the harness created):
 *   pid <childpid> subreaper <0|1>       once the program has been exec'd (0: prctl failed, so only
 *                                        the process group contains the program's descendants)
 *   error exec <errno> <message>         instead, if exec failed (launcher exits 127)
 *   exit code <n> utime_us <u> stime_us <s> maxrss_kb <k>      when the program exited, or
 *   exit signal <n> utime_us <u> stime_us <s> maxrss_kb <k>    when a signal killed it
 *
 * The program inherits stdin/stdout/stderr, the environment, the working directory, the CPU affinity
 * and the process group (the launcher is the group leader; the harness kills the group as a last
 * resort). It dies with the launcher (PR_SET_PDEATHSIG). SIGINT is ignored (the harness decides).
 * SIGTERM/SIGHUP to the launcher (the harness stopping everything, or the harness dying: the harness
 * sets the launcher's parent-death signal to SIGTERM) SIGKILL the program; the launcher then sweeps
 * and reports as usual.
 */
#define _GNU_SOURCE
#include <dirent.h>
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
#include <time.h>
#include <unistd.h>

static int report_fd = -1;
static volatile sig_atomic_t stop_requested = 0;
static volatile pid_t program_pid = 0;

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

/* kill(2) is async-signal-safe: the program dies at once, and wait4 below returns. */
static void on_stop(int sig) {
    (void)sig;
    stop_requested = 1;
    if (program_pid > 0) kill(program_pid, SIGKILL);
}

/* SIGKILLs every direct child of this process (found in /proc); returns how many it signalled. As a
 * subreaper, the orphaned descendants of a killed child become direct children, so repeating this
 * until no child is left reaches every descendant. */
static int kill_children(void) {
    pid_t self = getpid();
    int killed = 0;
    DIR *proc = opendir("/proc");
    if (!proc) return 0;
    struct dirent *e;
    while ((e = readdir(proc)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0) continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) continue;
        buf[n] = '\0';
        /* "pid (comm) state ppid ...": comm may contain spaces and parentheses, so parse after the
         * last ')'. */
        char *close_paren = strrchr(buf, ')');
        if (!close_paren) continue;
        char state;
        long ppid;
        if (sscanf(close_paren + 1, " %c %ld", &state, &ppid) != 2) continue;
        if (ppid == self && state != 'Z') {
            kill((pid_t)pid, SIGKILL);
            killed++;
        }
    }
    closedir(proc);
    return killed;
}

/* Kills and reaps every remaining descendant, for at most ~5 s (a process stuck in uninterruptible
 * sleep cannot be reaped; the harness then kills the group). */
static void sweep(void) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        kill_children();
        int status;
        pid_t r = waitpid(-1, &status, WNOHANG);
        if (r < 0 && errno == ECHILD) return;
        if (r == 0) {
            struct timespec pause = {0, 2 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 5) return;
    }
}

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
    /* A harness that went away must not kill the launcher before it has swept. */
    signal(SIGPIPE, SIG_IGN);
    int subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;

    /* SIGTERM/SIGHUP: stop the program and sweep. Installed before fork so none is lost; the child
     * restores the defaults before exec. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGINT, SIG_IGN);

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
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        /* Die with the launcher; if it already died before prctl took effect, give up now. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != launcher) _exit(127);
        /* Raising one's own OOM score needs no privilege; failure only loses the preference. */
        int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (oom >= 0) {
            while (write(oom, "1000", 4) < 0 && errno == EINTR) {}
            close(oom);
        }
        execvp(argv[2], argv + 2);
        int err = errno;
        while (write(errpipe[1], &err, sizeof err) < 0 && errno == EINTR) {}
        _exit(127);
    }

    program_pid = child;
    /* A stop request that arrived before program_pid was set. */
    if (stop_requested) kill(child, SIGKILL);
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
    report("pid %d subreaper %d\n", (int)child, subreaper);

    /* Drop our copies of the program's stdio so the harness sees EOF when the program closes them,
     * and writes to a dead program's stdin fail instead of filling a pipe nobody reads. */
    close(0);
    close(1);
    close(2);

    for (;;) {
        pid_t r = wait4(child, &status, 0, &ru);
        if (r == child) break;
        if (r < 0 && errno != EINTR) {
            report("error wait4 %d %s\n", errno, strerror(errno));
            sweep();
            return 2;
        }
    }
    /* Everything the program left behind (children, setsid daemons re-parented to us) dies now, before
     * the harness hears that the program exited. */
    sweep();
    /* ru_maxrss is in KiB on Linux and covers the program's address spaces (and those of any children
     * it reaped), never the harness's. */
    const char *how = WIFSIGNALED(status) ? "signal" : "code";
    int n = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
    report("exit %s %d utime_us %lld stime_us %lld maxrss_kb %ld\n", how, n, usecs(ru.ru_utime),
           usecs(ru.ru_stime), ru.ru_maxrss);
    return 0;
}
