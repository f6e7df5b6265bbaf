/*
 * `create --bundle DIR [--pid-file F] [--console-socket S] [--preserve-fds N] ID` without Node,
 * for a config.json within what spec.c reads, on a host where cgroup v1 serves every controller:
 * what src/oci/commands/create.ts does, in its order, with its messages and its state file. Any
 * other call is TO_NODE, decided before anything was made.
 */
#ifndef TSDOCK_RUNTIME_CREATE_H
#define TSDOCK_RUNTIME_CREATE_H

#include "cli.h"

/* 0, FAILED with the message in err (ERR_MAX bytes; nothing left behind), or TO_NODE. */
int create_run(const struct cli *c, char *err);

#endif
