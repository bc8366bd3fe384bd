// expect: leaked
// kind: ip-socket
// allow: ip=false
// what: creates an AF_INET and an AF_INET6 socket and closes them without connecting: a leak only in unix-socket-only mode.
// also-allow: 127.0.0.1:9050
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

/* Hang guard: whatever happens, end with status 0 within 2 s. */
static void on_alarm(int sig) { (void)sig; _exit(0); }
static void hang_guard(void) { signal(SIGALRM, on_alarm); alarm(2); }

int main(void) {
    hang_guard();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) close(fd);
    fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd >= 0) close(fd);
    return 0;
}
