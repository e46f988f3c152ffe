// Byte search for the string operations (Values/ByteStrings.swift).
#define _GNU_SOURCE
#include <string.h>
#include "CSkeinSupport.h"

const void *skein_memmem(const void *haystack, size_t haystack_length, const void *needle, size_t needle_length) {
    return memmem(haystack, haystack_length, needle, needle_length);
}
