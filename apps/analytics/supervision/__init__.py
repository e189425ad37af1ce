"""Data-quality supervision (督查, issue 11 item 1): rules that find lots dropping off the network or
hiding data, and the cases staff work for each finding. See docs/supervision.md.

- ``rules``: the rule codes, what each one's thresholds mean;
- ``detectors``: one set-based query per rule over every lot;
- ``engine``: raising cases once per episode, recording the end of the cause, the quiet-period close;
- ``workflow`` and ``services``: staff's moves on a case;
- ``tasks``, ``admin``: the periodic run and the staff pages.
"""
