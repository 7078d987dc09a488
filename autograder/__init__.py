"""Trusted grading code: hidden checks and the tools that run them. Never shipped to students.

Student code never runs in this process: `sandbox` runs it in a child process with limits,
and only plain data (tensors and numbers) comes back.
"""
