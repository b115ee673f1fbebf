/* fd_budget.h - file descriptors for more partitions (fd_budget.c). */
#ifndef SLUICE_FD_BUDGET_H
#define SLUICE_FD_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct control;

#define FD_BUDGET_PER_PARTITION 1   /* an active segment's .log */
#define FD_BUDGET_RESERVE_MIN 512
#define FD_BUDGET_RESERVE_PERCENT 5 /* of the open files limit */

/* The descriptors kept in reserve under a limit of limit. */
int64_t fd_budget_reserve(int64_t limit);
/* How many of partitions new partitions of replication factor rf this
 * node will hold (placement spreads replicas over the nodes). */
int64_t fd_budget_local(const struct control *c, int64_t partitions, int32_t rf);
/* 0 when n more partitions of this node fit, and then (unless
 * validate_only) they are claimed, added to *op_claim, until the
 * operation releases them; else KERR_POLICY_VIOLATION with why filled. */
int16_t fd_budget_claim(struct control *c, int64_t n, bool validate_only, int64_t *op_claim,
                        char *why, size_t len);
void fd_budget_release(struct control *c, int64_t n);

#endif
