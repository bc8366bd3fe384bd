// expect: leaked
// kind: connect
// allow: 127.0.0.1:9050
// what: a non-leader thread creates an AF_INET socket (no CLOEXEC) and execve()s the probe itself; the new image's FIRST syscall is connect() of the inherited fd to 192.0.2.1:80. strace 6.1 --seccomp-bpf loses the first syscall after a non-leader exec, so the connect is missing from the trace.
// accept: unverified   (the trace then shows '<... execve resumed>) = -1 (errno 18446744073709551575)'; clean is a bug)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pthread.h>

/* SAFETY: this probe targets a non-loopback address or does DNS. Refuse to run
 * unless the only network interface is lo, i.e. we are in a fresh network
 * namespace (unshare -n / leakcheck --isolate-network). */
static void require_isolated_netns(void) {
    FILE *f = fopen("/proc/net/dev", "r");
    char line[512];
    int n = 0, bad = 0;
    if (!f) { fprintf(stderr, "probe: SAFETY: cannot read /proc/net/dev; refusing\n"); _exit(3); }
    while (fgets(line, sizeof line, f)) {
        char *p = line, *c;
        if (++n <= 2) continue;
        while (*p == ' ') p++;
        if (!(c = strchr(p, ':'))) continue;
        *c = 0;
        if (strcmp(p, "lo") != 0) bad = 1;
    }
    fclose(f);
    if (bad) {
        fprintf(stderr, "probe: SAFETY: non-loopback interface present; run only in a fresh network namespace (unshare -n). Refusing.\n");
        _exit(3);
    }
}
/* Hang guard: whatever happens, end with status 0 within 2 s. */
static void on_alarm(int sig) { (void)sig; _exit(0); }
static void hang_guard(void) { signal(SIGALRM, on_alarm); alarm(2); }

static char self[4096], fdarg[16];

static void *execer(void *arg) {
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* inherited across exec */
    if (fd < 0) return NULL;
    snprintf(fdarg, sizeof fdarg, "%d", fd);
    char *argv[] = {self, "phase2", fdarg, NULL};
    execv("/proc/self/exe", argv);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "phase2") == 0) {
        /* no syscalls before the connect: no guard, no alarm (checked in phase 1) */
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons(80);
        sa.sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1 */
        connect(atoi(argv[2]), (struct sockaddr *)&sa, sizeof sa);
        return 0;
    }
    require_isolated_netns();
    hang_guard();
    snprintf(self, sizeof self, "%s", argv[0]);
    pthread_t t;
    if (pthread_create(&t, NULL, execer, NULL) != 0) return 0;
    pthread_join(t, NULL); /* never returns if the exec succeeds */
    return 0;
}
