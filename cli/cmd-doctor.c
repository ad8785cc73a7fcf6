/*
 * spindle doctor: what a first run needs, one line per check, and what
 * to do about each that fails.  (Issue 13: stub; the doctor part fills it.)
 */
#include <stdio.h>

#include "cli.h"

static int	cmd_doctor_exec(struct cmd_args *);

const struct cmd_entry cmd_doctor_entry = {
	.name = "doctor",
	.usage = "",
	.summary = "check what spindle needs to run here, say what to fix",
	.exec = cmd_doctor_exec
};

static int
cmd_doctor_exec(struct cmd_args *a)
{
	(void)a;
	printf("doctor: not written yet\n");
	return 1;
}
