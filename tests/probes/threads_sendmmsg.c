// expect: leaked
// kind: send
// allow: 127.0.0.1:9050
// what: 5 threads each sendmmsg() 2 datagrams 20 times: 4 to the probe's own bound UDP socket, one thread to 192.0.2.1:9999. Under -f the split form puts the vector on the resumed line: 'sendmmsg(5,  <unfinished ...>' then '<... sendmmsg resumed>[{msg_hdr=...}], 2, 0) = 2'.
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
static struct sockaddr_in self, out;

static void *worker(void *arg) {
    struct sockaddr_in *dst = arg ? &out : &self;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    pthread_barrier_wait(&go);
    if (fd < 0) return NULL;
    for (int k = 0; k < 20; k++) {
        struct mmsghdr m[2];
        struct iovec iov[2];
        memset(m, 0, sizeof m);
        for (int i = 0; i < 2; i++) {
            iov[i].iov_base = "mm";
            iov[i].iov_len = 2;
            m[i].msg_hdr.msg_name = dst;
            m[i].msg_hdr.msg_namelen = sizeof *dst;
            m[i].msg_hdr.msg_iov = &iov[i];
            m[i].msg_hdr.msg_iovlen = 1;
        }
        sendmmsg(fd, m, 2, 0);
    }
    close(fd);
    return NULL;
}

int main(void) {
    require_isolated_netns();
    hang_guard();
    int rfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    socklen_t len = sizeof self;
    memset(&self, 0, sizeof self);
    self.sin_family = AF_INET;
    self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (rfd < 0 || bind(rfd, (struct sockaddr *)&self, sizeof self) < 0 ||
        getsockname(rfd, (struct sockaddr *)&self, &len) < 0)
        return 0;
    memset(&out, 0, sizeof out);
    out.sin_family = AF_INET;
    out.sin_port = htons(9999);
    inet_pton(AF_INET, "192.0.2.1", &out.sin_addr);
    pthread_t t[5];
    pthread_barrier_init(&go, NULL, 6);
    for (int i = 0; i < 5; i++)
        if (pthread_create(&t[i], NULL, worker, i == 3 ? (void *)1 : NULL) != 0) return 0;
    pthread_barrier_wait(&go);
    for (int i = 0; i < 5; i++) pthread_join(t[i], NULL);
    return 0;
}
