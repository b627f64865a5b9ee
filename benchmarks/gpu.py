"""GPU timings of the landmark model: CUDA and TensorRT execution providers, FP32 and FP16.

    python benchmarks/gpu.py [--seconds 2] [--batches 1,16,64]

For each configuration it prints the median latency per batch and faces per second at batch 1,
16 and 64, twice: through ``FPENetRunner.run`` (numpy in and out, what users get) and with
onnxruntime I/O binding (input already on the GPU, outputs left there: the network alone, the
figure comparable with NVIDIA's). NVIDIA publishes about 0.33 ms per face at batch 1, FP16 on a T4,
for its FPENet (TAO model card); the GPU here is printed with the table.

Configurations: ``cuda`` with the FP32 model, ``cuda`` with ``fpenet68-fp16``, ``tensorrt`` (FP16
engine from the FP32 model, engines cached in the model cache). Those that cannot start are
listed with the reason. Needs onnxruntime-gpu with CUDA (and TensorRT libraries for ``tensorrt``).
"""

from __future__ import annotations

import argparse
import subprocess
import time

import numpy as np
import onnxruntime as ort

from faceanalytics.runners.fpenet import INPUT_NAME, OUTPUT_CONFIDENCE, OUTPUT_POINTS, FPENetRunner


def gpu_name() -> str:
    try:
        cmd = ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"]
        out = subprocess.run(cmd, capture_output=True, text=True)
        return out.stdout.strip() or "unknown GPU"
    except OSError:
        return "no nvidia-smi"


def median_time(fn, seconds: float) -> float:
    for _ in range(10):
        fn()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def bound_runner(session: ort.InferenceSession, x: np.ndarray, device_id: int = 0):
    """A callable running one batch already on the GPU, outputs kept on the GPU."""
    binding = session.io_binding()
    x_gpu = ort.OrtValue.ortvalue_from_numpy(x, "cuda", device_id)
    binding.bind_ortvalue_input(INPUT_NAME, x_gpu)
    binding.bind_output(OUTPUT_POINTS, "cuda", device_id)
    binding.bind_output(OUTPUT_CONFIDENCE, "cuda", device_id)

    def run() -> None:
        session.run_with_iobinding(binding)

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0, help="timing window per measurement")
    ap.add_argument("--batches", default="1,16,64")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    print(f"GPU: {gpu_name()}; onnxruntime {ort.__version__}; available providers {ort.get_available_providers()}")
    configs = [
        ("cuda", "fpenet68", "CUDA FP32"),
        ("cuda", "fpenet68-fp16", "CUDA FP16"),
        ("tensorrt", "fpenet68", "TensorRT FP16"),
    ]
    rng = np.random.default_rng(0)
    print("| configuration | batch | run(): ms/batch | run(): faces/s | I/O binding: ms/batch | I/O binding: ms/face | faces/s |")
    print("|---|---|---|---|---|---|---|")
    for device, model, label in configs:
        try:
            runner = FPENetRunner(model, device=device, max_batch=max(batches))
        except Exception as exc:  # a provider that cannot start here
            print(f"| {label} | | not run: {type(exc).__name__}: {str(exc)[:120]} | | | | |")
            continue
        if runner.providers[0] == "CPUExecutionProvider":
            print(f"| {label} | | not run: fell back to the CPU ({runner.providers}) | | | | |")
            continue
        for b in batches:
            x = rng.uniform(0, 255, (b, 1, 80, 80)).astype(np.float32)
            t_run = median_time(lambda x=x, r=runner: r.run(x), args.seconds)
            t_bound = median_time(bound_runner(runner.session, x), args.seconds)
            print(
                f"| {label} ({runner.providers[0]}) | {b} | {1000 * t_run:.3f} | {b / t_run:.0f} | "
                f"{1000 * t_bound:.3f} | {1000 * t_bound / b:.4f} | {b / t_bound:.0f} |"
            )
    print("NVIDIA's published FPENet figure: about 0.33 ms per face at batch 1, FP16, T4 (TAO model card).")


if __name__ == "__main__":
    main()
