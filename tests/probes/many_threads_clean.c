// expect: clean
// kind: none
// allow: 127.0.0.1:9050
// what: 8 threads released together each connect() to 127.0.0.1:9050 (a listener on 9050 is started first if the port is free); exercises <unfinished ...>/<... connect resumed> pairs.
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
#include <pthread.h>

/* Hang guard: whatever happens, end with status 0 within 2 s. */
static void on_alarm(int sig) { (void)sig; _exit(0); }
static void hang_guard(void) { signal(SIGALRM, on_alarm); alarm(2); }

static pthread_barrier_t go;

static void *worker(void *arg) {
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(9050);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pthread_barrier_wait(&go);
    if (fd >= 0) {
        for (int i = 0; i < 4; i++) { /* a few rounds for more overlap */
            connect(fd, (struct sockaddr *)&sa, sizeof sa);
            close(fd);
            fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0) break;
        }
        if (fd >= 0) close(fd);
    }
    return NULL;
}

int main(void) {
    hang_guard();
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(9050);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (ls >= 0) {
        setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(ls, (struct sockaddr *)&sa, sizeof sa) == 0) listen(ls, 64);
    }
    pthread_t t[8];
    int n = 0;
    pthread_barrier_init(&go, NULL, 9);
    for (int i = 0; i < 8; i++)
        if (pthread_create(&t[n], NULL, worker, NULL) == 0) n++;
    if (n < 8) return 0; /* barrier would never open */
    pthread_barrier_wait(&go);
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    if (ls >= 0) close(ls);
    return 0;
}
