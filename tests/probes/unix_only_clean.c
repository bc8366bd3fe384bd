// expect: clean
// kind: none
// allow: 127.0.0.1:9050
// what: AF_UNIX only: socketpair() traffic, a pathname listener in /tmp it connects and sends to, an abstract listener it connects to. Clean also in unix-socket-only mode.
// also-allow: ip=false
// also-expect: clean
// also-kind: none
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
#include <stddef.h>
#include <sys/un.h>

/* Hang guard: whatever happens, end with status 0 within 2 s. */
static void on_alarm(int sig) { (void)sig; _exit(0); }
static void hang_guard(void) { signal(SIGALRM, on_alarm); alarm(2); }

int main(void) {
    hang_guard();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
        send(sv[0], "pair", 4, 0);
        close(sv[0]);
        close(sv[1]);
    }
    struct sockaddr_un su;
    memset(&su, 0, sizeof su);
    su.sun_family = AF_UNIX;
    snprintf(su.sun_path, sizeof su.sun_path, "/tmp/leakcheck-probe-%d.sock", (int)getpid());
    unlink(su.sun_path);
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    if (ls >= 0 && bind(ls, (struct sockaddr *)&su, sizeof su) == 0 && listen(ls, 4) == 0) {
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        if (c >= 0) {
            connect(c, (struct sockaddr *)&su, sizeof su);
            sendto(c, "path", 4, 0, NULL, 0);
            close(c);
        }
    }
    if (ls >= 0) close(ls);
    unlink(su.sun_path);

    /* abstract namespace: sun_path[0] == 0 */
    memset(&su, 0, sizeof su);
    su.sun_family = AF_UNIX;
    int n = snprintf(su.sun_path + 1, sizeof su.sun_path - 1, "leakcheck-probe-%d", (int)getpid());
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    ls = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (ls >= 0 && bind(ls, (struct sockaddr *)&su, alen) == 0) {
        int c = socket(AF_UNIX, SOCK_DGRAM, 0);
        if (c >= 0) {
            connect(c, (struct sockaddr *)&su, alen);
            send(c, "abstract", 8, 0);
            close(c);
        }
    }
    if (ls >= 0) close(ls);
    return 0;
}
