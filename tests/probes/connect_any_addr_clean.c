// expect: clean
// kind: none
// allow: 127.0.0.1:9050, [::1]:9050
// what: TCP connect() to 0.0.0.0:9050 and to [::]:9050: Linux routes them to 127.0.0.1:9050 and [::1]:9050, which are allowed.
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
    struct sockaddr_in any = in4("0.0.0.0", 9050);
    struct sockaddr_in6 any6 = in6("::", 9050);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) {
        connect(fd, (struct sockaddr *)&any, sizeof any);
        close(fd);
    }
    fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd >= 0) {
        connect(fd, (struct sockaddr *)&any6, sizeof any6);
        close(fd);
    }
    return 0;
}
