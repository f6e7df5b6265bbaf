/* The verbs this front end serves, each as its src/oci/commands/<verb>.ts does. */
#ifndef TSDOCK_RUNTIME_VERBS_H
#define TSDOCK_RUNTIME_VERBS_H

#include "cli.h"

/* 0, FAILED with the message in err (ERR_MAX bytes), or TO_NODE before anything was done. */
int verb_run(const struct cli *c, char *err);

#endif
