#include "rnn_ref.h"

#include <math.h>

static inline float clip(float x, float c) { return c > 0.0f ? (x < -c ? -c : (x > c ? c : x)) : x; }

static inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

void nrt_lstm_cell_f32_ref(const nrt_rnn_cell* cell, const float* gx, const float* gh, const float* p, float* h,
                           float* c) {
    int64_t H = cell->H;
    float cl = cell->clip;
    for (int64_t j = 0; j < H; j++) {
        float c_prev = c[j];
        float ai = gx[j] + gh[j], ao = gx[H + j] + gh[H + j];
        float af = gx[2 * H + j] + gh[2 * H + j], ac = gx[3 * H + j] + gh[3 * H + j];
        if (p) {
            ai += p[j] * c_prev;
            af += p[2 * H + j] * c_prev;
        }
        float i = sigmoid(clip(ai, cl));
        float f = cell->input_forget ? 1.0f - i : sigmoid(clip(af, cl));
        float g = tanhf(clip(ac, cl));
        float c_new = f * c_prev + i * g;
        if (p) ao += p[H + j] * c_new;
        float o = sigmoid(clip(ao, cl));
        c[j] = c_new;
        h[j] = o * tanhf(c_new);
    }
}

void nrt_gru_gates_f32_ref(const nrt_rnn_cell* cell, const float* gx, float* gh, const float* h, float* rh) {
    int64_t H = cell->H;
    float cl = cell->clip;
    for (int64_t j = 0; j < H; j++) {
        gh[j] = sigmoid(clip(gx[j] + gh[j], cl));
        float r = sigmoid(clip(gx[H + j] + gh[H + j], cl));
        gh[H + j] = r;
        if (!cell->linear_before_reset) rh[j] = r * h[j];
    }
}

void nrt_gru_update_f32_ref(const nrt_rnn_cell* cell, const float* gx, const float* gh, float* h) {
    int64_t H = cell->H;
    float cl = cell->clip;
    for (int64_t j = 0; j < H; j++) {
        float z = gh[j], r = gh[H + j];
        float a = cell->linear_before_reset ? gx[2 * H + j] + r * gh[2 * H + j] : gx[2 * H + j] + gh[2 * H + j];
        float cand = tanhf(clip(a, cl));
        h[j] = (1.0f - z) * cand + z * h[j];
    }
}
