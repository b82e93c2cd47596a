// SPDX-License-Identifier: GPL-2.0
/*
 * kcancel's tracepoints, defined here once (trace.h says what they are).
 */
#define CREATE_TRACE_POINTS
#include "trace.h"
