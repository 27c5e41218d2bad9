import json
rows = [{"id": i, "name": f"item-{i}", "tags": [str(i % 7)] * (i % 5)} for i in range(500)]
text = json.dumps(rows)
back = json.loads(text)
index = {row["name"]: row for row in back}
print(len(text), len(index), sorted(index)[:2])
