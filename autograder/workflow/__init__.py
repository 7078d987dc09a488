"""The class workflow: grade one student (`grade_student`), a class (`grade_class`), or one
Gradescope submission (`gradescope`), each through real `nbgrader autograde`.
"""
