/*
 * The spawn plan's encoder in C (include/plan.h), for plans built natively: the same records in
 * the same order as src/runtime/plan-codec.ts writes them.
 */
#ifndef TSDOCK_PLAN_ENCODE_H
#define TSDOCK_PLAN_ENCODE_H

#include "spawn_plan.h"

#include <stddef.h>
#include <stdint.h>

/* Encodes *plan into a malloc'd buffer (*out, *len); -1 when memory runs out. Strings must not
 * be NULL where the plan requires them (cwd, every op string). */
int tsd_plan_encode(const struct tsd_plan *plan, uint8_t **out, size_t *len);

#endif
