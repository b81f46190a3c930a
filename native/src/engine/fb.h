/* Bounds-checked FlatBuffers reader.
 *
 * Every accessor validates the offsets, lengths and alignment it follows
 * before reading, so a corrupt or hostile file can only make an accessor
 * return false, never read outside the buffer. Values are read with memcpy;
 * vectors used in place are checked to be aligned for their element type.
 * Field slots come from nanort_schema.h, generated from the schema.
 */
#ifndef NRT_FB_H
#define NRT_FB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nanort_schema.h"

typedef struct nrt_fb {
    const uint8_t* data;
    size_t size;
    uint64_t* scanned; /* optional: the bytes of every string checked are added here (the
                          loader bounds its work: many references may share one string) */
} nrt_fb;

typedef struct nrt_fb_table {
    const nrt_fb* fb;
    uint32_t pos;          /* table start */
    uint32_t vtable;       /* vtable start */
    uint16_t vtable_size;
    uint16_t table_size;
} nrt_fb_table;

typedef struct nrt_fb_vec {
    const nrt_fb* fb;
    uint32_t data_pos;     /* first element */
    uint32_t len;
} nrt_fb_vec;

/* The root table, after checking size and file identifier. */
bool nrt_fb_root(const nrt_fb* fb, const char identifier[4], nrt_fb_table* root);

/* Scalars: the default when the field is absent; false if the field's
 * bytes lie outside the table. */
bool nrt_fb_u8(const nrt_fb_table* t, int slot, uint8_t dflt, uint8_t* out);
bool nrt_fb_u16(const nrt_fb_table* t, int slot, uint16_t dflt, uint16_t* out);
bool nrt_fb_i32(const nrt_fb_table* t, int slot, int32_t dflt, int32_t* out);
bool nrt_fb_u32(const nrt_fb_table* t, int slot, uint32_t dflt, uint32_t* out);
bool nrt_fb_u64(const nrt_fb_table* t, int slot, uint64_t dflt, uint64_t* out);
bool nrt_fb_f32(const nrt_fb_table* t, int slot, float dflt, float* out);

/* Sub-table: *present = false when absent. */
bool nrt_fb_table_field(const nrt_fb_table* t, int slot, nrt_fb_table* out, bool* present);
/* Vector of scalars/structs of elem_size bytes; absent = empty vector. */
bool nrt_fb_vector(const nrt_fb_table* t, int slot, size_t elem_size, nrt_fb_vec* out);
/* Vector of tables: element i. */
bool nrt_fb_vec_table(const nrt_fb_vec* v, uint32_t i, nrt_fb_table* out);
/* NUL-terminated string; absent = NULL. */
bool nrt_fb_string(const nrt_fb_table* t, int slot, const char** out);
/* Vector of strings: element i. */
bool nrt_fb_vec_string(const nrt_fb_vec* v, uint32_t i, const char** out);
/* Inline struct of struct_size bytes; absent = NULL. */
bool nrt_fb_struct(const nrt_fb_table* t, int slot, size_t struct_size, const uint8_t** out);

static inline const void* nrt_fb_vec_data(const nrt_fb_vec* v) {
    return v->len ? v->fb->data + v->data_pos : NULL;
}

int32_t nrt_fb_vec_i32(const nrt_fb_vec* v, uint32_t i);
int64_t nrt_fb_vec_i64(const nrt_fb_vec* v, uint32_t i);
float nrt_fb_vec_f32(const nrt_fb_vec* v, uint32_t i);

#endif
