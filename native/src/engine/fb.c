#include "fb.h"

#include <string.h>

/* FlatBuffers is little-endian on the wire; nanort targets are too. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "nanort's FlatBuffers reader assumes a little-endian target"
#endif

static uint16_t rd_u16(const uint8_t* p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd_u32(const uint8_t* p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* [pos, pos + len) inside the buffer, without overflow. */
static bool in_bounds(const nrt_fb* fb, uint64_t pos, uint64_t len) {
    return pos <= fb->size && len <= fb->size - pos;
}

static bool table_at(const nrt_fb* fb, uint64_t pos, nrt_fb_table* out) {
    if (pos % 4 != 0 || !in_bounds(fb, pos, 4)) return false;
    int32_t soff;
    memcpy(&soff, fb->data + pos, 4);
    int64_t vt = (int64_t)pos - (int64_t)soff;
    if (vt < 0 || vt % 2 != 0 || !in_bounds(fb, (uint64_t)vt, 4)) return false;
    uint16_t vt_size = rd_u16(fb->data + vt);
    uint16_t tb_size = rd_u16(fb->data + vt + 2);
    if (vt_size < 4 || vt_size % 2 != 0 || !in_bounds(fb, (uint64_t)vt, vt_size)) return false;
    if (tb_size < 4 || !in_bounds(fb, pos, tb_size)) return false;
    out->fb = fb;
    out->pos = (uint32_t)pos;
    out->vtable = (uint32_t)vt;
    out->vtable_size = vt_size;
    out->table_size = tb_size;
    return true;
}

bool nrt_fb_root(const nrt_fb* fb, const char identifier[4], nrt_fb_table* root) {
    if (fb->data == NULL || fb->size < 8 || fb->size > UINT32_MAX) return false;
    if (memcmp(fb->data + 4, identifier, 4) != 0) return false;
    return table_at(fb, rd_u32(fb->data), root);
}

/* Offset of a field inside its table, 0 when absent; -1 when its `size`
 * bytes would not fit inside the table. */
static int64_t field_offset(const nrt_fb_table* t, int slot, size_t size) {
    uint32_t voff = 4u + 2u * (uint32_t)slot;
    if (slot < 0 || voff + 2 > t->vtable_size) return 0;
    uint16_t off = rd_u16(t->fb->data + t->vtable + voff);
    if (off == 0) return 0;
    if (off < 4 || (uint32_t)off + size > t->table_size) return -1;
    return off;
}

#define SCALAR_GETTER(fn, type)                                                 \
    bool fn(const nrt_fb_table* t, int slot, type dflt, type* out) {            \
        int64_t off = field_offset(t, slot, sizeof(type));                      \
        if (off < 0) return false;                                              \
        if (off == 0) { *out = dflt; return true; }                             \
        memcpy(out, t->fb->data + t->pos + off, sizeof(type));                  \
        return true;                                                            \
    }
SCALAR_GETTER(nrt_fb_u8, uint8_t)
SCALAR_GETTER(nrt_fb_u16, uint16_t)
SCALAR_GETTER(nrt_fb_i32, int32_t)
SCALAR_GETTER(nrt_fb_u32, uint32_t)
SCALAR_GETTER(nrt_fb_u64, uint64_t)
SCALAR_GETTER(nrt_fb_f32, float)

/* Follows a uoffset stored at absolute position `at`. */
static bool follow(const nrt_fb* fb, uint64_t at, uint64_t* target) {
    if (!in_bounds(fb, at, 4)) return false;
    uint64_t dst = at + rd_u32(fb->data + at);
    if (dst >= fb->size) return false;
    *target = dst;
    return true;
}

/* Absolute position a reference field points to; 0 when absent. */
static bool ref_field(const nrt_fb_table* t, int slot, uint64_t* target) {
    int64_t off = field_offset(t, slot, 4);
    if (off < 0) return false;
    if (off == 0) { *target = 0; return true; }
    return follow(t->fb, (uint64_t)t->pos + (uint64_t)off, target);
}

bool nrt_fb_table_field(const nrt_fb_table* t, int slot, nrt_fb_table* out, bool* present) {
    uint64_t pos;
    if (!ref_field(t, slot, &pos)) return false;
    *present = pos != 0;
    return pos == 0 || table_at(t->fb, pos, out);
}

static bool vector_at(const nrt_fb* fb, uint64_t pos, size_t elem_size, nrt_fb_vec* out) {
    if (pos % 4 != 0 || !in_bounds(fb, pos, 4)) return false;
    uint64_t len = rd_u32(fb->data + pos);
    uint64_t data = pos + 4;
    if (!in_bounds(fb, data, len * elem_size)) return false; /* len < 2^32: no overflow */
    if (elem_size > 1 && data % (elem_size >= 8 ? 8 : elem_size) != 0 && len > 0) return false;
    out->fb = fb;
    out->data_pos = (uint32_t)data;
    out->len = (uint32_t)len;
    return true;
}

bool nrt_fb_vector(const nrt_fb_table* t, int slot, size_t elem_size, nrt_fb_vec* out) {
    uint64_t pos;
    if (!ref_field(t, slot, &pos)) return false;
    if (pos == 0) {
        out->fb = t->fb;
        out->data_pos = 0;
        out->len = 0;
        return true;
    }
    return vector_at(t->fb, pos, elem_size, out);
}

bool nrt_fb_vec_table(const nrt_fb_vec* v, uint32_t i, nrt_fb_table* out) {
    uint64_t pos;
    if (i >= v->len || !follow(v->fb, (uint64_t)v->data_pos + 4ull * i, &pos)) return false;
    return table_at(v->fb, pos, out);
}

static bool string_at(const nrt_fb* fb, uint64_t pos, const char** out) {
    nrt_fb_vec v;
    if (!vector_at(fb, pos, 1, &v)) return false;
    /* The terminating NUL must exist inside the buffer. */
    if (!in_bounds(fb, (uint64_t)v.data_pos + v.len, 1) || fb->data[v.data_pos + v.len] != 0) return false;
    if (fb->scanned) *fb->scanned += v.len;
    if (memchr(fb->data + v.data_pos, 0, v.len) != NULL) return false; /* embedded NUL */
    *out = (const char*)fb->data + v.data_pos;
    return true;
}

bool nrt_fb_string(const nrt_fb_table* t, int slot, const char** out) {
    uint64_t pos;
    if (!ref_field(t, slot, &pos)) return false;
    if (pos == 0) { *out = NULL; return true; }
    return string_at(t->fb, pos, out);
}

bool nrt_fb_vec_string(const nrt_fb_vec* v, uint32_t i, const char** out) {
    uint64_t pos;
    if (i >= v->len || !follow(v->fb, (uint64_t)v->data_pos + 4ull * i, &pos)) return false;
    return string_at(v->fb, pos, out);
}

bool nrt_fb_struct(const nrt_fb_table* t, int slot, size_t struct_size, const uint8_t** out) {
    int64_t off = field_offset(t, slot, struct_size);
    if (off < 0) return false;
    *out = off == 0 ? NULL : t->fb->data + t->pos + off;
    return true;
}

int32_t nrt_fb_vec_i32(const nrt_fb_vec* v, uint32_t i) {
    int32_t x;
    memcpy(&x, v->fb->data + v->data_pos + 4ull * i, 4);
    return x;
}

int64_t nrt_fb_vec_i64(const nrt_fb_vec* v, uint32_t i) {
    int64_t x;
    memcpy(&x, v->fb->data + v->data_pos + 8ull * i, 8);
    return x;
}

float nrt_fb_vec_f32(const nrt_fb_vec* v, uint32_t i) {
    float x;
    memcpy(&x, v->fb->data + v->data_pos + 4ull * i, 4);
    return x;
}
