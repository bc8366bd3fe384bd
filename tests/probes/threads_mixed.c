// expect: leaked
// kind: connect
// allow: 127.0.0.1:9050
// what: 4 threads connect to 127.0.0.1:9050 while a 5th connects to 192.0.2.1:80, all released by one barrier: the leak line is often split into <unfinished ...>/<... connect resumed> amid allowed ones.
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

static pthread_barrier_t go;

static void *worker(void *arg) {
    int leak = arg != NULL;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(leak ? 80 : 9050);
    inet_pton(AF_INET, leak ? "192.0.2.1" : "127.0.0.1", &sa.sin_addr);
    pthread_barrier_wait(&go);
    for (int i = 0; i < 3; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) break;
        struct timeval tv = {0, 300000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        connect(fd, (struct sockaddr *)&sa, sizeof sa);
        close(fd);
    }
    return NULL;
}

int main(void) {
    require_isolated_netns();
    hang_guard();
    pthread_t t[5];
    pthread_barrier_init(&go, NULL, 6);
    for (int i = 0; i < 5; i++)
        if (pthread_create(&t[i], NULL, worker, i == 2 ? (void *)1 : NULL) != 0) return 0;
    pthread_barrier_wait(&go);
    for (int i = 0; i < 5; i++) pthread_join(t[i], NULL);
    return 0;
}
