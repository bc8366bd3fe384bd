// expect: clean
// kind: none
// allow: 127.0.0.1:9050
// what: a unix socket connect()s to /var/run/nscd/socket (ENOENT without nscd) and is closed; the next socket() (TCP to 127.0.0.1:9050) gets the same descriptor and send()s a SOCKS greeting: not a request to nscd (the descriptor was reused).
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
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
/* Hang guard: whatever happens, end with status 0 within 2 s. */
static void on_alarm(int sig) { (void)sig; _exit(0); }
static void hang_guard(void) { signal(SIGALRM, on_alarm); alarm(2); }

__attribute__((unused)) static struct sockaddr_in in4(const char *ip, int port) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, ip, &sa.sin_addr);
    return sa;
}

__attribute__((unused)) static struct sockaddr_in6 in6(const char *ip, int port) {
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &sa.sin6_addr);
    return sa;
}

int main(void) {
    hang_guard();
    int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (u < 0) return 0;
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    strcpy(un.sun_path, "/var/run/nscd/socket");
    /* Nothing is ever sent on it, whether nscd runs or not. */
    connect(u, (struct sockaddr *)&un, sizeof un);
    close(u);
    struct sockaddr_in proxy = in4("127.0.0.1", 9050);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls >= 0 && (bind(ls, (struct sockaddr *)&proxy, sizeof proxy) < 0 || listen(ls, 4) < 0)) {
        close(ls);
        ls = -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) return 0;
    if (fd != u) fprintf(stderr, "probe: note: descriptor %d not reused (%d)\n", u, fd);
    connect(fd, (struct sockaddr *)&proxy, sizeof proxy);
    send(fd, "\5\1\0\0\0\0\0\0\0\0\0\0\0\0", 14, MSG_NOSIGNAL);
    close(fd);
    if (ls >= 0) close(ls);
    return 0;
}
