/* The engine in plain C (any CPU; x86-64's baseline SSE2 where compiled for it). */
#define ISA_LEVEL ISA_GENERIC
#define VARIANT generic
#include "engine.h"
