"""The test suite, a regular package so that `tests.*` always names this folder.

A peer package that ships a top-level ``tests`` package into site-packages (verl's and
openrlhf's wheels do) would otherwise win over this folder, which Python treats as a namespace
package only when no regular ``tests`` package exists anywhere on ``sys.path``; pytest puts this
folder's parent first on ``sys.path``, so a regular package here is found first.
"""
