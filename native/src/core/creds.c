/*
 * Who the container process is: groups, gid, uid, then its capability sets. The order is the
 * one the kernel's capability rules leave us (capabilities(7), "Effect of user ID changes").
 */
#define _GNU_SOURCE
#include "child.h"

#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* PR_CAPBSET_DROP needs CAP_SETPCAP in the effective set, so it runs while we are still root. */
static void drop_bounding(const struct tsd_child *c) {
  for (unsigned cap = 0; cap <= c->cap_last_cap; cap++)
    if (!(c->plan->caps.bounding & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
      tsd_child_fail(c, "capabilities", "bounding");
}

/* Fails naming the id, so the user reads "setuid 1000: invalid argument". */
static _Noreturn void fail_id(const struct tsd_child *c, const char *step, unsigned id) {
  char text[16];
  snprintf(text, sizeof(text), "%u", id);
  tsd_child_fail(c, step, text);
}

static void set_ids(const struct tsd_child *c) {
  const struct tsd_plan *p = c->plan;
  /* Without a gid map, setgroups(2) is refused in a user namespace (user_namespaces(7)). */
  bool can_setgroups = !(p->namespaces & CLONE_NEWUSER) || p->gid_map != NULL;
  if (can_setgroups && setgroups(p->n_additional_gids, p->additional_gids) < 0)
    tsd_child_fail(c, "setgroups", "");
  if (setresgid(p->gid, p->gid, p->gid) < 0) fail_id(c, "setgid", p->gid);
  /* Leaving uid 0 would clear the permitted set that capset below narrows instead. */
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) tsd_child_fail(c, "capabilities", "keepcaps");
  if (setresuid(p->uid, p->uid, p->uid) < 0) fail_id(c, "setuid", p->uid);
}

/* Effective, permitted and inheritable in one capset(2), then the ambient set bit by bit. */
static void set_caps(const struct tsd_child *c) {
  const struct tsd_caps *k = &c->plan->caps;
  struct __user_cap_header_struct head = {.version = _LINUX_CAPABILITY_VERSION_3};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
    data[i].effective = (uint32_t)(k->effective >> (32 * i));
    data[i].permitted = (uint32_t)(k->permitted >> (32 * i));
    data[i].inheritable = (uint32_t)(k->inheritable >> (32 * i));
  }
  if (syscall(SYS_capset, &head, data) < 0) tsd_child_fail(c, "capabilities", "capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
    tsd_child_fail(c, "capabilities", "ambient");
  for (unsigned cap = 0; cap <= c->cap_last_cap; cap++)
    if ((k->ambient & (1ull << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      tsd_child_fail(c, "capabilities", "ambient");
}

void tsd_set_credentials(const struct tsd_child *c) {
  /*
   * Without no_new_privs, loading a filter needs CAP_SYS_ADMIN (seccomp(2)), which the capability
   * sets below may drop: load it now, so the id and capability changes run under it (the
   * default profile allows them). With no_new_privs it waits until just before execve.
   */
  if (c->plan->seccomp != NULL && !c->plan->no_new_privs) tsd_load_seccomp(c);
  if (c->plan->has_caps) drop_bounding(c);
  set_ids(c);
  if (c->plan->has_caps) set_caps(c);
  if (c->plan->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    tsd_child_fail(c, "no_new_privs", "");
}
