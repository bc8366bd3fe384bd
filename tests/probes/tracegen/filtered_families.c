// NOT a probe (build.sh does not compile this directory).
// Generator for the argument shapes of vsock.trace, xdp.trace and
// other_families.trace. It must never create an AF_VSOCK / AF_XDP / ... socket,
// so it first installs a seccomp filter that makes the kernel refuse, without
// executing them, socket() for every family except AF_UNIX, and every
// connect/bind/sendto/sendmsg. Run it under plain ptrace strace (NOT
// --seccomp-bpf): syscall-entry stops happen before seccomp, so strace still
// decodes the arguments; the results are then the filter's errnos and were
// hand-edited to realistic values in the .trace files.
//   cc -O1 -o /tmp/ff filtered_families.c
//   unshare -n strace -f -q -s 1024 -e trace=socket,connect,bind,sendto -o /tmp/ff.trace /tmp/ff
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_xdp.h>
#include <linux/seccomp.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DENY(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
                 BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

int main(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        DENY(__NR_connect), DENY(__NR_bind), DENY(__NR_sendto), DENY(__NR_sendmsg),
        DENY(__NR_socketpair),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAFNOSUPPORT),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("seccomp");
        return 1; /* never go on without the filter */
    }
    /* self-test: the filter must refuse before anything else happens */
    if (socket(AF_INET, SOCK_DGRAM, 0) >= 0 || errno != EAFNOSUPPORT) return 1;

    int fd = open("/dev/null", O_RDWR); /* not a socket either way */
    if (fd < 0) return 1;

    /* AF_VSOCK */
    socket(AF_VSOCK, SOCK_STREAM, 0);
    struct sockaddr_vm vm;
    memset(&vm, 0, sizeof vm);
    vm.svm_family = AF_VSOCK;
    vm.svm_cid = VMADDR_CID_HOST;
    vm.svm_port = 1234;
    connect(fd, (struct sockaddr *)&vm, sizeof vm);
    vm.svm_cid = VMADDR_CID_ANY;
    vm.svm_port = VMADDR_PORT_ANY;
    bind(fd, (struct sockaddr *)&vm, sizeof vm);
    vm.svm_cid = 42;
    vm.svm_port = 5000;
    sendto(fd, "hi", 2, 0, (struct sockaddr *)&vm, sizeof vm);

    /* AF_XDP */
    socket(AF_XDP, SOCK_RAW, 0);
    struct sockaddr_xdp x;
    memset(&x, 0, sizeof x);
    x.sxdp_family = AF_XDP;
    x.sxdp_flags = XDP_COPY;
    x.sxdp_ifindex = 1;
    x.sxdp_queue_id = 0;
    bind(fd, (struct sockaddr *)&x, sizeof x);
    sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0); /* AF_XDP TX kick */

    /* other families a judge must classify */
    socket(AF_BLUETOOTH, SOCK_SEQPACKET, 0);
    socket(AF_CAN, SOCK_RAW, 1);
    socket(AF_TIPC, SOCK_RDM, 0);
    socket(AF_RDS, SOCK_SEQPACKET, 0);
    socket(AF_ALG, SOCK_SEQPACKET, 0);
    socket(AF_MCTP, SOCK_DGRAM, 0);
    socket(AF_KEY, SOCK_RAW, 2);
    socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP); /* unprivileged ping socket */
    socket(AF_PACKET, SOCK_DGRAM, 0);
    socket(45, SOCK_DGRAM, 0);
    socket(0x2e, SOCK_DGRAM, 0);
    return 0;
}
