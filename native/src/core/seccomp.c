/*
 * The last step of the child that constrains it: the seccomp filter tsdock compiled in
 * TypeScript (src/runtime/seccomp/compile.ts). The native side only loads it.
 */
#define _GNU_SOURCE
#include "child.h"

#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * seccomp(2): SECCOMP_SET_MODE_FILTER needs either no_new_privs or CAP_SYS_ADMIN in our user
 * namespace. The child is single-threaded, so SECCOMP_FILTER_FLAG_TSYNC has nothing to do.
 */
void tsd_load_seccomp(const struct tsd_child *c) {
  const struct tsd_plan *p = c->plan;
  struct sock_fprog prog = {.len = (unsigned short)p->n_seccomp, .filter = p->seccomp};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) tsd_child_fail(c, "seccomp", "");
}
