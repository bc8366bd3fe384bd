// expect: leaked
// kind: connect
// allow: 127.0.0.1:9050
// what: a non-leader thread execve()s the probe itself; after the exec (which takes over the leader's PID) the new image connects to 192.0.2.1:80. Shows '+++ superseded by execve' and an execve resumed under a different PID.
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

static char self[4096];

static void *execer(void *arg) {
    (void)arg;
    char *argv[] = {self, "phase2", NULL};
    execv("/proc/self/exe", argv);
    return NULL;
}

int main(int argc, char **argv) {
    require_isolated_netns();
    hang_guard();
    if (argc > 1 && strcmp(argv[1], "phase2") == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) return 0;
        struct timeval tv = {0, 300000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons(80);
        inet_pton(AF_INET, "192.0.2.1", &sa.sin_addr);
        connect(fd, (struct sockaddr *)&sa, sizeof sa);
        close(fd);
        return 0;
    }
    snprintf(self, sizeof self, "%s", argv[0]);
    pthread_t t;
    if (pthread_create(&t, NULL, execer, NULL) != 0) return 0;
    pthread_join(t, NULL); /* never returns if the exec succeeds */
    return 0;
}
