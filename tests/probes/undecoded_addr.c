// expect: unverified
// kind: none
// allow: 127.0.0.1:9050
// what: connect() with an invalid sockaddr pointer ((struct sockaddr *)1): strace can only print the raw pointer, so the destination is unknown and the verdict must be unverified (never clean).
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
    if (fd < 0) return 0;
    connect(fd, (const struct sockaddr *)(unsigned long)1, sizeof(struct sockaddr_in)); /* EFAULT */
    close(fd);
    return 0;
}
