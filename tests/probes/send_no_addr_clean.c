// expect: clean
// kind: none
// allow: 127.0.0.1:9050
// what: UDP socket connect()ed to 127.0.0.1:9050, then 20 x send()/sendto(NULL) without a destination (judged by the earlier connect).
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

/* Hang guard: whatever happens, end with status 0 within 2 s. */
static void on_alarm(int sig) { (void)sig; _exit(0); }
static void hang_guard(void) { signal(SIGALRM, on_alarm); alarm(2); }

int main(void) {
    hang_guard();
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(9050);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(fd, (struct sockaddr *)&sa, sizeof sa);
    for (int i = 0; i < 10; i++) {
        send(fd, "data", 4, 0);            /* glibc send() is sendto(fd, buf, n, 0, NULL, 0) */
        sendto(fd, "more", 4, 0, NULL, 0);
    }
    close(fd);
    return 0;
}
