// expect: leaked
// kind: raw-socket
// allow: 127.0.0.1:9050
// what: socket() with address family 63, unknown to kernel and strace (fails with EAFNOSUPPORT: the attempt counts).
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
    /* 63 is far above AF_MAX (46 on Linux 6.x): nothing can be created. */
    int fd = socket(63, SOCK_STREAM, 0);
    if (fd >= 0) close(fd);
    return 0;
}
