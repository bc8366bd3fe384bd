// expect: clean
// kind: none
// allow: 127.0.0.1:9050
// what: a forked child listens on 127.0.0.1:0 and reports its port through a pipe; the parent connects to it (own process tree's server: not a leak).
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
#include <poll.h>

/* Hang guard: whatever happens, end with status 0 within 2 s. */
static void on_alarm(int sig) { (void)sig; _exit(0); }
static void hang_guard(void) { signal(SIGALRM, on_alarm); alarm(2); }

int main(void) {
    hang_guard();
    int p[2];
    if (pipe(p) < 0) return 0;
    pid_t pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        hang_guard(); /* alarms are not inherited across fork() */
        close(p[0]);
        int ls = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa;
        socklen_t len = sizeof sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        unsigned short port = 0;
        if (ls >= 0 && bind(ls, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(ls, 4) == 0 &&
            getsockname(ls, (struct sockaddr *)&sa, &len) == 0)
            port = sa.sin_port;
        if (write(p[1], &port, sizeof port) != sizeof port) _exit(0);
        close(p[1]);
        if (port) {
            struct pollfd pf = {ls, POLLIN, 0};
            if (poll(&pf, 1, 500) > 0) {
                int c = accept(ls, NULL, NULL);
                if (c >= 0) close(c);
            }
        }
        _exit(0);
    }
    close(p[1]);
    unsigned short port = 0;
    if (read(p[0], &port, sizeof port) == sizeof port && port) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = port;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd >= 0) { connect(fd, (struct sockaddr *)&sa, sizeof sa); close(fd); }
    }
    waitpid(pid, NULL, 0);
    return 0;
}
