/* SHA-256 (FIPS 180-4), for hashing the access token: only the hash is stored. */
#ifndef TOD_SERVICE_SHA256_H
#define TOD_SERVICE_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* Writes the 32-byte digest of data[0..len) into out. */
void tod_sha256(const void *data, size_t len, uint8_t out[32]);

/* Writes the digest as 64 lowercase hex digits plus a NUL into hex (65 bytes). */
void tod_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
