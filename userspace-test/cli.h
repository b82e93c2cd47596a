/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the kcancel tools share on their command lines and in their reports:
 * usage errors, numbers parsed whole, the names of backends.
 *
 * A tool that links cli.o defines cli_prog, its name, and cli_print_help(),
 * which prints its usage text.
 */
#ifndef KCANCEL_CLI_H
#define KCANCEL_CLI_H

#include <stdio.h>
#include <linux/types.h>

extern const char cli_prog[];
void cli_print_help(FILE *f);

/* Does not return: exits with status 2. */
void cli_bad_usage(const char *fmt, ...);
__u64 cli_parse_uint(const char *opt, const char *s, __u64 min, __u64 max);
const char *cli_backend_name(__u32 backend);

#endif /* KCANCEL_CLI_H */
