/* The gzip'd static agent, embedded in the spindle binary. */
	.section .rodata
	.global spn_agent_gz
	.global spn_agent_gz_end
	.balign 16
spn_agent_gz:
	.incbin AGENT_IMAGE_GZ
spn_agent_gz_end:
	.section .note.GNU-stack,"",%progbits
