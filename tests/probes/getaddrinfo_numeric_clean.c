// expect: clean
// kind: none
// allow: 127.0.0.1:9050
// what: getaddrinfo("127.0.0.1", "9050") with AI_NUMERICHOST|AI_NUMERICSERV: no lookup at all; then connects to the result (allowed).
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
#include <netdb.h>

/* Hang guard: whatever happens, end with status 0 within 2 s. */
static void on_alarm(int sig) { (void)sig; _exit(0); }
static void hang_guard(void) { signal(SIGALRM, on_alarm); alarm(2); }

int main(void) {
    hang_guard();
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo("127.0.0.1", "9050", &hints, &res) != 0) return 0;
    int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd >= 0) {
        connect(fd, res->ai_addr, res->ai_addrlen);
        close(fd);
    }
    freeaddrinfo(res);
    return 0;
}
