"""The ``%aurous`` magics: the extension and its commands (:mod:`.extension`), their parsing
(:mod:`.args`), ``{{name}}`` values (:mod:`.interpolate`), error blocks (:mod:`.errors`), and what a
generating cell does (:mod:`.generation`, :mod:`.progress`).

Empty on purpose: importing one part does not load IPython's magic machinery.
"""
