// expect: leaked
// kind: connect
// allow: 127.0.0.1:9050
// what: adversary: writes fake strace lines (allowed connects, fake exit, fake resumed, a partial line) to stdout, stderr and every open fd 3..255, then really connects to 192.0.2.1:80; must still be flagged.
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

static void forge(int fd, int pid) {
    char buf[2048];
    int n = snprintf(buf, sizeof buf,
        "%-5d connect(3, {sa_family=AF_INET, sin_port=htons(9050), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0\n"
        "%-5d connect(4, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"192.0.2.1\")}, 16 <unfinished ...>\n"
        "%-5d <... connect resumed>)              = 0\n"
        "%-5d connect(4, {sa_family=AF_UNSPEC, sa_data=\"\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\"}, 16) = 0\n"
        "%-5d +++ exited with 0 +++\n"
        "%-5d connect(3, {sa_family=AF_INET, sin_port=htons(9050), sin_addr=inet_addr(\"127.0.0.1\")}, 16",
        pid, pid, pid, pid, pid, pid); /* last line deliberately unterminated */
    if (n > 0) {
        ssize_t w = write(fd, buf, (size_t)n);
        (void)w;
    }
}

int main(void) {
    require_isolated_netns();
    hang_guard();
    int pid = (int)getpid();
    signal(SIGPIPE, SIG_IGN);
    forge(1, pid);
    forge(2, pid);
    for (int fd = 3; fd < 256; fd++)
        if (fcntl(fd, F_GETFD) != -1) forge(fd, pid); /* errors ignored */

    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return 0;
    struct timeval tv = {0, 300000};
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(80);
    inet_pton(AF_INET, "192.0.2.1", &sa.sin_addr);
    connect(s, (struct sockaddr *)&sa, sizeof sa);
    close(s);
    return 0;
}
