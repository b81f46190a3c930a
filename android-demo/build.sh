#!/usr/bin/env bash
# nanort for Android, built from Debian packages only (no NDK, SDK or Gradle):
#
#   android-demo/build.sh          libnanort_jni.so (arm64-v8a, x86_64), nanort-android.aar,
#                                  and the signed demo app nanort-demo.apk, in android-demo/build/
#   android-demo/build.sh test     the tests of what the build made (run a build first; see run_tests)
#
# It installs what it needs with apt-get when run as root (idempotent), and
# keeps downloads in ~/.cache/nanort/android. The models are converted from
# the rapidocr-onnxruntime wheel with the repository's Python package
# ($PYTHON, default .venv/bin/python: `pip install -e .` first).
# How each step works and why: android-demo/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
OUT=${NANORT_ANDROID_OUT:-$HERE/build}
CACHE=${NANORT_CACHE:-$HOME/.cache/nanort}/android
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
MIN_SDK=24
TARGET_SDK=35
ABIS=(arm64-v8a x86_64)
JOBS=${JOBS:-$(nproc)}

say() { printf '== %s\n' "$*"; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }
triple() { case $1 in arm64-v8a) echo aarch64-linux-android ;; x86_64) echo x86_64-linux-android ;; esac; }
musl_arch() { case $1 in arm64-v8a) echo aarch64 ;; x86_64) echo x86_64 ;; esac; }

# ---------------------------------------------------------------- tools --
APT_PACKAGES=(clang-14 lld-14 llvm-14 cmake openjdk-17-jdk-headless aapt apksigner zipalign dexdump junit4 zip unzip
              musl musl-dev android-libnativehelper-dev qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
              libclang-rt-14-dev)

install_tools() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
        die "missing Debian packages: ${missing[*]} (apt-get install them, or run this as root)"
    say "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Packages the running Debian (bookworm) lacks, from Debian's archive through
# a private APT configuration (the system's sources stay untouched):
# android.jar (API 23) and dx from bullseye (Architecture: all), and arm64
# builds of musl (headers for the arm64 library, loader for its C tests
# under qemu) and of the JRE (the JUnit tests under qemu).
FOREIGN_DEBS=(libandroid-23-java dalvik-exchange musl:arm64 musl-dev:arm64 openjdk-17-jre-headless:arm64 zlib1g:arm64)

fetch_foreign() {
    local root=$CACHE/root
    [ -f "$root/.complete" ] && return
    say "downloading ${FOREIGN_DEBS[*]} (Debian archive, once)"
    local apt=$CACHE/apt uri
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$CACHE/debs"
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
    local key="signed-by=/usr/share/keyrings/debian-archive-keyring.gpg"
    printf 'deb [%s] %s bullseye main\ndeb [arch=arm64 %s] %s bookworm main\n' "$key" "$uri" "$key" "$uri" \
        > "$apt/sources.list"
    : > "$apt/status"
    cat > "$apt/apt.conf" <<EOF
Dir::Etc::SourceList "$apt/sources.list"; Dir::Etc::SourceParts "/dev/null";
Dir::State::Lists "$apt/lists"; Dir::Cache "$apt/cache"; Dir::State::status "$apt/status";
APT::Architectures { "amd64"; "arm64"; }; APT::Sandbox::User "root";
EOF
    APT_CONFIG=$apt/apt.conf apt-get update -qq
    (cd "$CACHE/debs" && APT_CONFIG=$apt/apt.conf apt-get download -qq "${FOREIGN_DEBS[@]}")
    rm -rf "$root" && mkdir -p "$root"
    for deb in "$CACHE"/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
    touch "$root/.complete"
}

ANDROID_JAR=
DX_JAR=
locate_sdk() {
    ANDROID_JAR=$CACHE/root/usr/share/java/com.android.android-23.jar
    DX_JAR=$CACHE/root/usr/share/java/com.android.dx-10.0.0.jar
    [ -f "$ANDROID_JAR" ] && [ -f "$DX_JAR" ] || die "android.jar / dx missing under $CACHE/root"
}

# ------------------------------------------------------------ sysroots --
# Per ABI, laid out like the NDK's: musl's headers (errno through bionic's
# __errno, and Android's jni.h) and stub libc.so / libm.so holding the
# symbols of ndk-lite/*.syms available at MIN_SDK.
musl_headers() {
    case $1 in
        arm64-v8a) echo "$CACHE/root/usr/include/aarch64-linux-musl" ;;
        x86_64) echo /usr/include/x86_64-linux-musl ;;
    esac
}

make_sysroot() {
    local abi=$1 sr=$OUT/sysroot/$1 t
    t=$(triple "$abi")
    rm -rf "$sr" && mkdir -p "$sr/usr/include" "$sr/usr/lib/$t/$MIN_SDK"
    cp -r "$(musl_headers "$abi")/." "$sr/usr/include/"
    sed -i 's/^int \*__errno_location(void);$/int *__errno(void);/; s/^#define errno (\*__errno_location())$/#define errno (*__errno())/' \
        "$sr/usr/include/errno.h"
    grep -q '(\*__errno())' "$sr/usr/include/errno.h" || die "could not point errno at bionic's __errno"
    cp /usr/include/android/nativehelper/jni.h "$sr/usr/include/jni.h"
    for lib in c m; do
        awk -v api=$MIN_SDK '!/^#/ && NF == 2 && $2 <= api { print "void " $1 "(void) {}" }' \
            "$HERE/lib/ndk-lite/lib$lib.syms" > "$sr/stub_$lib.c"
        clang-14 --target="$t$MIN_SDK" -fuse-ld=lld -shared -nostdlib -fPIC -w -fno-builtin \
            -Wl,-soname,lib$lib.so -o "$sr/usr/lib/$t/$MIN_SDK/lib$lib.so" "$sr/stub_$lib.c"
    done
    if [ "$abi" = x86_64 ]; then # __builtin_cpu_supports' CPU model data (compiler-rt, position-independent)
        cp "$(clang-14 --target=x86_64-linux-gnu --rtlib=compiler-rt -print-libgcc-file-name)" \
            "$sr/usr/lib/$t/libcompiler_builtins.a"
    fi
    clang-14 --target="$t$MIN_SDK" --sysroot="$sr" -std=c11 -D_GNU_SOURCE -fsyntax-only "$HERE/lib/ndk-lite/abi_check.c" ||
        die "the $abi sysroot headers do not match bionic's ABI (lib/ndk-lite/abi_check.c)"
}

# ------------------------------------------------------- native library --
build_so() {
    local abi=$1 b=$OUT/cmake/$1
    cmake -S "$HERE/lib/jni" -B "$b" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_TOOLCHAIN_FILE="$ROOT/native/cmake/android.cmake" -DANDROID_ABI="$abi" -DANDROID_PLATFORM=$MIN_SDK \
        -DNANORT_ANDROID_SYSROOT="$OUT/sysroot/$abi" -DNANORT_WERROR=ON >/dev/null
    cmake --build "$b" -j "$JOBS" >/dev/null || cmake --build "$b" -j 1
    mkdir -p "$OUT/jni/$abi"
    cp "$b/libnanort_jni.so" "$OUT/jni/$abi/"
    llvm-strip-14 --strip-unneeded "$OUT/jni/$abi/libnanort_jni.so"
    check_so "$OUT/jni/$abi/libnanort_jni.so" "$abi"
}

# What Android's loader needs: NEEDED only libc/libm/libdl, no text
# relocations, 16 KB-aligned LOAD segments (Android 15), a non-executable stack.
check_so() {
    local so=$1 abi=$2 dyn needed
    dyn=$(llvm-readelf-14 -d -l "$so")
    needed=$(awk '/NEEDED/ {gsub(/[\[\]]/, "", $NF); print $NF}' <<< "$dyn" | sort | tr '\n' ' ')
    for lib in $needed; do
        case $lib in libc.so|libm.so|libdl.so) ;; *) die "$so needs $lib";; esac
    done
    ! grep -q TEXTREL <<< "$dyn" || die "$so has text relocations"
    awk '$1 == "LOAD" && $NF != "0x4000" {bad = 1} END {exit bad}' <<< "$dyn" || die "$so: LOAD not 16 KB-aligned"
    awk '$1 == "GNU_STACK" && $(NF-1) ~ /E/ {bad = 1} END {exit bad}' <<< "$dyn" || die "$so: executable stack"
    printf '   %s %s: %s bytes, NEEDED %s, 16 KB pages, no TEXTREL\n' "$abi" "$(basename "$so")" \
        "$(stat -c %s "$so")" "$needed"
}

# --------------------------------------------------------------- models --
# PP-OCR det (uint8 camera-byte input) and rec, int8, calibrated on rendered
# text, plus the sample page the app opens with.
models() {
    [ -x "$PYTHON" ] || die "no Python with nanort at $PYTHON (python3 -m venv .venv && .venv/bin/pip install -e .; or set PYTHON)"
    mkdir -p "$OUT/assets"
    "$PYTHON" "$HERE/tools/make_assets.py" "$OUT/assets"
}

# ---------------------------------------------------------------- Java --
compile_java() {
    local classes=$OUT/classes
    rm -rf "$classes" "$OUT/gen" && mkdir -p "$classes/lib" "$classes/app" "$OUT/gen"
    javac -nowarn -source 8 -target 8 -Xlint:-options -bootclasspath "$ANDROID_JAR" -d "$classes/lib" \
        "$HERE"/lib/src/ai/nanort/*.java
    (cd "$classes/lib" && jar cf "$OUT/classes.jar" .)
    aapt package -f -m -J "$OUT/gen" -M "$HERE/app/AndroidManifest.xml" -S "$HERE/app/res" -I "$ANDROID_JAR"
    javac -nowarn -source 8 -target 8 -Xlint:-options -bootclasspath "$ANDROID_JAR" -cp "$OUT/classes.jar" \
        -d "$classes/app" $(find "$OUT/gen" "$HERE/app/src" -name '*.java')
}

# ----------------------------------------------------------------- AAR --
# classes.jar, jni/<abi>/libnanort_jni.so, and a prefab package (the C header
# and the same library) for apps that call the C API from their own native code.
build_aar() {
    local a=$OUT/aar
    rm -rf "$a" && mkdir -p "$a"
    cp "$HERE/lib/AndroidManifest.xml" "$a/"
    cp "$OUT/classes.jar" "$a/classes.jar"
    : > "$a/R.txt"
    local version
    version=$(awk '/NRT_VERSION_(MAJOR|MINOR|PATCH)/ {v = v (v ? "." : "") $3} END {print v}' "$ROOT/native/include/nanort.h")
    mkdir -p "$a/prefab/modules/nanort/include"
    printf '{"schema_version": 2, "name": "nanort", "version": "%s", "dependencies": []}\n' "$version" > "$a/prefab/prefab.json"
    printf '{"export_libraries": [], "library_name": "libnanort_jni"}\n' > "$a/prefab/modules/nanort/module.json"
    cp "$ROOT/native/include/nanort.h" "$a/prefab/modules/nanort/include/"
    for abi in "${ABIS[@]}"; do
        mkdir -p "$a/jni/$abi" "$a/prefab/modules/nanort/libs/android.$abi"
        cp "$OUT/jni/$abi/libnanort_jni.so" "$a/jni/$abi/"
        cp "$OUT/jni/$abi/libnanort_jni.so" "$a/prefab/modules/nanort/libs/android.$abi/"
        printf '{"abi": "%s", "api": %d, "ndk": 21, "stl": "none", "static": false}\n' "$abi" $MIN_SDK \
            > "$a/prefab/modules/nanort/libs/android.$abi/abi.json"
    done
    rm -f "$OUT/nanort-android.aar"
    (cd "$a" && zip -qr -X "$OUT/nanort-android.aar" .)
}

# ----------------------------------------------------------------- APK --
# Models stored uncompressed and 64-byte aligned (mapped in place from the
# APK), .so stored and page-aligned (loaded from the APK, not extracted).
build_apk() {
    local p=$OUT/apk
    rm -rf "$p" && mkdir -p "$p/lib"
    java -cp "$DX_JAR" com.android.dx.command.Main --dex --min-sdk-version=$MIN_SDK --output="$p/classes.dex" \
        "$OUT/classes/lib" "$OUT/classes/app"
    aapt package -f -0 nrt -M "$HERE/app/AndroidManifest.xml" -S "$HERE/app/res" -A "$OUT/assets" \
        -I "$ANDROID_JAR" --min-sdk-version $MIN_SDK --target-sdk-version $TARGET_SDK -F "$p/unsigned.apk"
    for abi in "${ABIS[@]}"; do
        mkdir -p "$p/lib/$abi" && cp "$OUT/jni/$abi/libnanort_jni.so" "$p/lib/$abi/"
    done
    (cd "$p" && aapt add unsigned.apk classes.dex lib/*/libnanort_jni.so >/dev/null)
    zipalign -f 64 "$p/unsigned.apk" "$p/aligned.apk"
    local ks=$CACHE/debug.keystore
    [ -f "$ks" ] || keytool -genkeypair -keystore "$ks" -storepass android -keypass android -alias androiddebugkey \
        -keyalg RSA -keysize 2048 -validity 10000 -dname "CN=Android Debug,O=Android,C=US" 2>/dev/null
    apksigner sign --ks "$ks" --ks-pass pass:android --ks-key-alias androiddebugkey --min-sdk-version $MIN_SDK \
        --out "$OUT/nanort-demo.apk" "$p/aligned.apk"
    rm -f "$OUT/nanort-demo.apk.idsig"
}

build() {
    install_tools
    fetch_foreign
    locate_sdk
    mkdir -p "$OUT"
    for abi in "${ABIS[@]}"; do
        say "libnanort_jni.so for $abi (min API $MIN_SDK)"
        make_sysroot "$abi"
        build_so "$abi"
    done
    say "models (PP-OCR det + rec int8) and the sample image"
    models
    say "Java: ai.nanort library and the demo app"
    compile_java
    say "nanort-android.aar"
    build_aar
    say "nanort-demo.apk"
    build_apk
    printf '   %s: %s bytes\n   %s: %s bytes\n' "$OUT/nanort-android.aar" "$(stat -c %s "$OUT/nanort-android.aar")" \
        "$OUT/nanort-demo.apk" "$(stat -c %s "$OUT/nanort-demo.apk")"
}

# ================================================================ tests ==
# What can be checked without a device: the packages, the very libraries they
# hold (C API tests under musl's loader: arm64 under qemu, x86_64 natively),
# the Java API through JNI (host JVM with the x86_64 library, arm64 JVM under
# qemu with the arm64 one) and the app's OCR path on its own assets.
T=
PASSED=()
ok() { PASSED+=("$*"); printf '   ok: %s\n' "$*"; }

test_packages() {
    local apk=$OUT/nanort-demo.apk aar=$OUT/nanort-android.aar badging
    [ -f "$apk" ] && [ -f "$aar" ] || die "no APK / AAR in $OUT: run build.sh first"
    apksigner verify --min-sdk-version $MIN_SDK "$apk" || die "apksigner verify failed"
    zipalign -c 64 "$apk" || die "APK entries are not aligned"
    badging=$(aapt dump badging "$apk")
    grep -q "native-code: 'arm64-v8a' 'x86_64'" <<< "$badging" || die "APK lacks a native ABI: $badging"
    grep -q "sdkVersion:'$MIN_SDK'" <<< "$badging" && grep -q "targetSdkVersion:'$TARGET_SDK'" <<< "$badging" &&
        grep -q "launchable-activity: name='ai.nanort.demo.MainActivity'" <<< "$badging" || die "APK manifest: $badging"
    unzip -lv "$apk" | awk '/assets\/.*\.nrt$/ {n++; if ($2 != "Stored") bad = 1} END {exit bad || n != 2}' ||
        die "the .nrt assets must be stored uncompressed (mapped in place)"
    unzip -p "$apk" classes.dex > "$T/classes.dex"
    dexdump "$T/classes.dex" > "$T/classes.txt"
    grep -q "Class descriptor  : 'Lai/nanort/Model;'" "$T/classes.txt" || die "classes.dex lacks ai.nanort.Model"
    ok "APK: signed (v2/v3, minSdk $MIN_SDK), 64-byte aligned, ABIs arm64-v8a x86_64, models stored, dex holds ai.nanort"
    unzip -qo "$apk" 'lib/*' -d "$T/apk"
    unzip -qo "$aar" 'jni/*' classes.jar AndroidManifest.xml 'prefab/*' -d "$T/aar"
    for abi in "${ABIS[@]}"; do
        cmp "$T/apk/lib/$abi/libnanort_jni.so" "$OUT/jni/$abi/libnanort_jni.so" &&
            cmp "$T/aar/jni/$abi/libnanort_jni.so" "$OUT/jni/$abi/libnanort_jni.so" || die "$abi library differs between APK, AAR and build"
        check_so "$T/apk/lib/$abi/libnanort_jni.so" "$abi"
    done
    [ -f "$T/aar/prefab/modules/nanort/include/nanort.h" ] || die "AAR lacks the C header"
    ok "AAR: classes.jar, jni/{arm64-v8a,x86_64}, prefab C header; the same libraries as the APK"
}

C_TESTS=(test_api test_binding test_levels test_threads test_cycles)

# One C test program per name, linked against the packaged library.
build_c_tests() {
    local abi=$1 dir=$T/c-$1 cc specs libdir
    mkdir -p "$dir"
    cp "$T/apk/lib/$abi/libnanort_jni.so" "$dir/"
    if [ "$abi" = arm64-v8a ]; then
        specs=$T/musl-aarch64.specs
        sed "s|/usr/include/aarch64-linux-musl|$CACHE/root/usr/include/aarch64-linux-musl|g; s|/usr/lib/aarch64-linux-musl|$CACHE/root/usr/lib/aarch64-linux-musl|g" \
            "$CACHE/root/usr/lib/aarch64-linux-musl/musl-gcc.specs" > "$specs"
        cc=(aarch64-linux-gnu-gcc -specs "$specs" -mno-outline-atomics)
        libdir=$CACHE/root/lib/aarch64-linux-musl
    else
        cc=(gcc -specs /usr/lib/x86_64-linux-musl/musl-gcc.specs)
        libdir=/usr/lib/x86_64-linux-musl
    fi
    # the library's NEEDED libc.so / libm.so are musl's libc at link time too
    mkdir -p "$dir/link" && ln -sfn "$libdir/libc.so" "$dir/link/libm.so"
    for t in "${C_TESTS[@]}"; do
        "${cc[@]}" -O1 -std=c11 -D_GNU_SOURCE -I"$ROOT/native/include" -I"$ROOT/tests/c" "$ROOT/tests/c/$t.c" \
            "$HERE/test/errno_bridge.c" -o "$dir/$t" -L"$dir" -l:libnanort_jni.so -L"$libdir" -Wl,-rpath,'$ORIGIN' \
            -Wl,-rpath-link,"$dir/link:$libdir"
    done
}

# qemu-aarch64 for arm64 (musl's loader from the extracted root), natively for x86_64.
run_c() {
    local abi=$1 cpu=$2 name=$3; shift 3
    local log=$T/c-$abi/$name-$cpu.log
    if [ "$abi" = arm64-v8a ]; then
        qemu-aarch64 -cpu "$cpu" -L "$CACHE/root" "$T/c-$abi/$name" "$@" > "$log" 2>&1
    else
        "$T/c-$abi/$name" "$@" > "$log" 2>&1
    fi || { cat "$log"; die "$name ($abi, $cpu) failed"; }
    tail -n 1 "$log"
}

test_c_api() {
    local abi=$1 m=$T/models level exact cpus
    build_c_tests "$abi"
    level=("$m"/level/conv_net.nrt "$m"/level/mlp.nrt "$m"/level/shapes_net.nrt)
    exact=(--exact "$m"/level/conv_net_int8.nrt "$m"/level/mlp_int8.nrt "$m"/level/shapes_net_int8.nrt)
    [ "$abi" = arm64-v8a ] && cpus=(max cortex-a53) || cpus=(host)
    for cpu in "${cpus[@]}"; do
        run_c "$abi" "$cpu" test_api "$m/sigmoid_tanh.nrt"
        run_c "$abi" "$cpu" test_levels "${level[@]}" "${exact[@]}"
        grep -q "levels exercised" "$T/c-$abi/test_levels-$cpu.log" && grep "levels exercised" "$T/c-$abi/test_levels-$cpu.log"
    done
    run_c "$abi" "${cpus[0]}" test_binding "$m"/*.nrt "$m"/level/*.nrt "$m"/seed/*.nrt
    run_c "$abi" "${cpus[0]}" test_threads "$m/sigmoid_tanh.nrt" "$m/level/mlp_int8.nrt" "$m/level/conv_net.nrt"
    run_c "$abi" "${cpus[0]}" test_cycles -n 3 "$m"/seed/*.nrt
    ok "C API tests (${C_TESTS[*]}) on the packaged $abi library (${cpus[*]})"
}

JUNIT_CP=/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar

compile_junit() {
    mkdir -p "$T/junit"
    javac -nowarn -source 8 -target 8 -Xlint:-options -cp "$T/aar/classes.jar:$OUT/classes/app:$JUNIT_CP" \
        -d "$T/junit" $(find "$HERE/test" -name '*.java')
}

# libc.so (bionic's name, with __errno) and libm.so over the JVM's glibc.
glibc_compat() {
    local dir=$1 cc=$2 libm=$3
    mkdir -p "$dir"
    $cc -shared -fPIC -O1 -Wl,-soname,libc.so -o "$dir/libc.so" "$HERE/test/glibc_compat.c"
    ln -sfn "$libm" "$dir/libm.so"
}

test_junit_host() {
    glibc_compat "$T/compat-x86_64" gcc /lib/x86_64-linux-gnu/libm.so.6
    LD_LIBRARY_PATH=$T/compat-x86_64 java --add-opens java.base/java.io=ALL-UNNAMED \
        -Djava.library.path="$T/aar/jni/x86_64" -Dnanort.models="$T/models" -Dnanort.assets="$OUT/assets" \
        -cp "$T/aar/classes.jar:$OUT/classes/app:$T/junit:$JUNIT_CP" org.junit.runner.JUnitCore \
        ai.nanort.ModelTest ai.nanort.demo.OcrPipelineTest > "$T/junit-host.log" 2>&1 ||
        { cat "$T/junit-host.log"; die "JUnit on the host JVM failed"; }
    grep -A6 "OCR of" "$T/junit-host.log" | sed 's/^\.*/   /' | grep -v "^ *$" || true
    ok "JUnit on the host JVM, AAR's x86_64 library: $(grep '^OK' "$T/junit-host.log")"
}

# An arm64 JVM (Debian's, extracted) under qemu with glibc from the cross toolchain.
test_junit_arm64() {
    local root=$CACHE/root
    mkdir -p "$root/lib/aarch64-linux-gnu"
    cp -an /usr/aarch64-linux-gnu/lib/. "$root/lib/aarch64-linux-gnu/"
    ln -sfn aarch64-linux-gnu/ld-linux-aarch64.so.1 "$root/lib/ld-linux-aarch64.so.1"
    # relative: resolved inside the qemu root, not on the host
    glibc_compat "$root/opt/nanort-compat" aarch64-linux-gnu-gcc ../../lib/aarch64-linux-gnu/libm.so.6
    qemu-aarch64 -L "$root" -E LD_LIBRARY_PATH=/opt/nanort-compat "$root/usr/lib/jvm/java-17-openjdk-arm64/bin/java" \
        -Xshare:off -XX:TieredStopAtLevel=1 --add-opens java.base/java.io=ALL-UNNAMED \
        -Djava.library.path="$T/apk/lib/arm64-v8a" -Dnanort.models="$T/models" \
        -cp "$T/aar/classes.jar:$T/junit:$JUNIT_CP" org.junit.runner.JUnitCore ai.nanort.ModelTest \
        > "$T/junit-arm64.log" 2>&1 || { cat "$T/junit-arm64.log"; die "JUnit on the arm64 JVM failed"; }
    ok "JUnit on an arm64 JVM under qemu, APK's arm64 library: $(grep '^OK' "$T/junit-arm64.log")"
}

run_tests() {
    T=$OUT/test
    rm -rf "$T" && mkdir -p "$T"
    say "packages"
    test_packages
    say "test models"
    [ -x "$PYTHON" ] || die "no Python with nanort at $PYTHON (set PYTHON)"
    "$PYTHON" "$HERE/tools/make_test_models.py" "$T/models" >/dev/null
    for abi in "${ABIS[@]}"; do
        say "C API tests, $abi"
        test_c_api "$abi"
    done
    say "JUnit"
    compile_junit
    test_junit_host
    test_junit_arm64
    say "all passed:"
    printf '   %s\n' "${PASSED[@]}"
}

case ${1:-build} in
    build) build ;;
    test) install_tools; fetch_foreign; locate_sdk; run_tests ;;
    *) die "usage: build.sh [build|test]" ;;
esac
