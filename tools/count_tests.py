#!/usr/bin/env python3
"""Counts test cases from a Bazel build-event JSON file and the test.xml files it names.

Usage: count_tests.py BEP_JSON TEST_LABELS_FILE
Prints failures, then one line "N passed, N failed, N skipped". A test target that was
expected but produced no result (for example it failed to build) counts as one failure.
Exit status 0 only when nothing failed.
"""
import json
import sys
import urllib.parse
import xml.etree.ElementTree as ET


def count_xml(path):
    passed = failed = skipped = 0
    names = []
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        name = "%s.%s" % (case.get("classname", ""), case.get("name", ""))
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            names.append(name)
        elif case.get("result") == "skipped" or case.find("skipped") is not None or case.get("status") == "notrun":
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped, names


def main():
    bep_path, labels_path = sys.argv[1], sys.argv[2]
    expected = [l.strip() for l in open(labels_path) if l.strip()]
    results = {}
    with open(bep_path) as f:
        for line in f:
            event = json.loads(line)
            test_id = event.get("id", {}).get("testResult")
            if not test_id:
                continue
            label = test_id["label"]
            result = event.get("testResult", {})
            xml = None
            for output in result.get("testActionOutput", []):
                if output.get("name") == "test.xml":
                    xml = urllib.parse.urlparse(output["uri"]).path
            results[label] = (result.get("status", "NO_STATUS"), xml)

    passed = failed = skipped = 0
    for label in expected:
        if label not in results:
            failed += 1
            print("FAILED (no result, did it build?): %s" % label)
            continue
        status, xml = results[label]
        counts = None
        if xml:
            try:
                counts = count_xml(xml)
            except (OSError, ET.ParseError):
                counts = None
        if counts is None or sum(counts[:3]) == 0:
            ok = status == "PASSED"
            counts = (1 if ok else 0, 0 if ok else 1, 0, [] if ok else [label])
        p, fl, s, names = counts
        if status != "PASSED" and fl == 0:  # e.g. a crash or timeout after the cases ran
            fl, names = 1, [label + " (" + status + ")"]
        passed, failed, skipped = passed + p, failed + fl, skipped + s
        for name in names:
            print("FAILED: %s: %s" % (label, name))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
