#include "CSkeinSupport.h"
#include <malloc.h>

size_t skein_malloc_usable_size(void *block) { return malloc_usable_size(block); }
