// SPDX-License-Identifier: GPL-2.0
/*
 * What the kcancel tools share on their command lines and in their reports.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#include <linux/kcancel.h>

#include "cli.h"

/**
 * cli_bad_usage() - say what is wrong with the command line, then the usage
 * @fmt: printf format of what is wrong.
 *
 * Everything goes to stderr; the tool exits with status 2.
 */
void cli_bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	cli_print_help(stderr);
	exit(2);
}

/**
 * cli_parse_uint() - a decimal number of an option, whole and in its range
 * @opt: the option, for the message.
 * @s: its argument.
 * @min: the least value it takes.
 * @max: the largest.
 *
 * Return: the number; anything else is a usage error (cli_bad_usage()).
 */
__u64 cli_parse_uint(const char *opt, const char *s, __u64 min, __u64 max)
{
	unsigned long long v;
	char *end;

	/* strtoull() takes leading blanks and a sign; a count takes neither. */
	if (*s < '0' || *s > '9')
		cli_bad_usage("%s: '%s' is not a number", opt, s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		cli_bad_usage("%s: '%s' is not a number", opt, s);
	if (errno == ERANGE || v < min || v > max)
		cli_bad_usage("%s: '%s' is not in %llu..%llu", opt, s, min, max);
	return v;
}

/**
 * cli_backend_name() - the name of a device's backend
 * @backend: an &enum kcancel_backend, as KCANCEL_IOC_INFO reports it.
 *
 * Return: "edu", "sim" or "unknown".
 */
const char *cli_backend_name(__u32 backend)
{
	switch (backend) {
	case KCANCEL_BACKEND_EDU:
		return "edu";
	case KCANCEL_BACKEND_SIM:
		return "sim";
	}
	return "unknown";
}
