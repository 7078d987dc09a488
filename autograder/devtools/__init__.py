"""Developer tools, never shipped in the Gradescope bundle: benchmarks (`benchmark`,
`benchmark_class`), the calibration of the behaviour checks (`calibrate`), and the
demonstration class of the main job (`demo_class`).
"""
