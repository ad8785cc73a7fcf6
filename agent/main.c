/* The stock agent: no exports, every CALL a dead letter (run.c). */
#include "agent.h"

int
main(int argc, char **argv)
{
	agent_run(argc, argv, NULL);
}
