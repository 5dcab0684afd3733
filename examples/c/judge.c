/* Judge one pair with the vlmjudge C ABI.
 * Build: cc -std=c11 judge.c $(pkg-config --cflags --libs vlmjudge) -o judge
 * Usage: ./judge MODEL.gguf */
#include <stdio.h>
#include <vlmjudge.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]);
        return 2;
    }
    static const char *choices[] = {"A", "B", "tie", "none"};
    vlmjudge_pair pair = {"cat-legs", "How many legs does a cat have?",
                          "A cat has four legs.", "A cat has seven legs.", NULL, 0};
    vlmjudge_model *model = NULL;
    vlmjudge_judge *judge = NULL;
    vlmjudge_verdict *v = NULL;
    vlmjudge_status s = vlmjudge_model_load(argv[1], NULL, NULL, &model);
    if (s == VLMJUDGE_OK) s = vlmjudge_judge_new(model, NULL, &judge);
    if (s == VLMJUDGE_OK) s = vlmjudge_judge_pair(judge, &pair, &v);
    int rc = 1;
    if (s != VLMJUDGE_OK) {
        fprintf(stderr, "error (%s): %s\n", vlmjudge_status_str(s), vlmjudge_last_error_message());
    } else if (vlmjudge_verdict_error(v)) {
        fprintf(stderr, "pair %s failed: %s\n", vlmjudge_verdict_id(v), vlmjudge_verdict_error(v));
    } else {
        int c = vlmjudge_verdict_consistent(v);
        printf("%s: verdict %s, p(A) = %.3f, consistent: %s\n", vlmjudge_verdict_id(v),
               choices[vlmjudge_verdict_choice(v)], vlmjudge_verdict_p_a(v),
               c < 0 ? "unknown" : c ? "yes" : "no");
        rc = 0;
    }
    vlmjudge_verdict_free(v);
    vlmjudge_judge_free(judge);
    vlmjudge_model_free(model);
    return rc;
}
