// expect: leaked
// kind: untraceable
// allow: 127.0.0.1:9050
// what: forks a child that sleeps, then ptrace(PTRACE_ATTACH)es it: a program that traces its own children could hide their calls (it fails under leakcheck, which already traces the child, but the attempt is flagged). No network.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_alarm(int sig) { (void)sig; _exit(0); }

int main(void) {
    signal(SIGALRM, on_alarm);
    alarm(2);
    pid_t child = fork();
    if (child == 0) {
        alarm(2);
        pause();
        _exit(0);
    }
    if (child < 0) return 0;
    if (ptrace(PTRACE_ATTACH, child, 0, 0) == 0) {
        waitpid(child, NULL, __WALL);
        ptrace(PTRACE_DETACH, child, 0, 0);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 0;
}
