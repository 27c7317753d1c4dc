"""The photo store on real images: Pillow-made ones with planted metadata and scikit-image's sample photos."""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import skimage.data
from PIL import ExifTags, Image, ImageCms

from core.attachments import Attachment, AttachmentTooLarge
from core.commands import Command, Param, ParamType
from core.config import Config
from core.context import Context
from core.errors import BadArgument
from core.photos import PhotoLimits, PhotoRejected, PhotoStore
from core.replies import Reply
from tests.testbot import TestBot

SAMPLES = Path(skimage.data.__file__).parent
SECRET_XMP = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF>home-address-xmp</rdf:RDF></x:xmpmeta>"
GPS = {1: "N", 2: (37.0, 46.0, 30.0), 3: "W", 4: (122.0, 25.0, 10.0)}


def encode(image: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=kind, **options)
    return out.getvalue()


def two_colour(width: int = 40, height: int = 20) -> Image.Image:
    """Red on the left half, blue on the right: easy to tell which way up a stored copy is."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    return image


def phone_jpeg() -> bytes:
    """A JPEG as a phone writes it: GPS position, sideways orientation, XMP, an ICC profile, a comment."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # shown rotated 90° clockwise
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.IFD.GPSInfo] = GPS
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(two_colour(), "JPEG", exif=exif.tobytes(), xmp=SECRET_XMP, comment=b"taken at home", icc_profile=srgb)


def attachment(name: str, data: bytes, content_type: str | None = None) -> Attachment:
    return Attachment.from_bytes(name, data, content_type=content_type)


@pytest.fixture
def store(tmp_path: Path) -> PhotoStore:
    return PhotoStore(tmp_path / "photos")


def stored_files(store: PhotoStore) -> list[Path]:
    return sorted(path for path in store.folder.rglob("*") if path.is_file()) if store.folder.exists() else []


async def test_gps_exif_and_every_other_metadata_are_gone_from_the_stored_copy(store: PhotoStore) -> None:
    original = phone_jpeg()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo) == GPS
    photo = await store.store(attachment("IMG_0001.JPG", original, "image/jpeg"))
    data = await store.read(photo.sha256)
    kept = Image.open(io.BytesIO(data))
    assert len(kept.getexif()) == 0 and not kept.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert not {"exif", "xmp", "icc_profile", "comment"} & set(kept.info)
    for planted in (b"Exif", b"PhoneCo", b"home-address-xmp", b"taken at home", b"adobe:ns:meta"):
        assert planted not in data
    assert (photo.type, photo.bytes) == ("jpeg", len(data))


async def test_the_exif_orientation_is_applied_before_it_is_dropped(store: PhotoStore) -> None:
    photo = await store.store(attachment("sideways.jpg", phone_jpeg()))
    assert (photo.width, photo.height) == (20, 40)
    kept = Image.open(store.path(photo.sha256)).convert("RGB")
    top, bottom = kept.getpixel((10, 5)), kept.getpixel((10, 35))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60, "the left (red) half is on top after a clockwise turn"
    assert bottom[2] > 200 and bottom[0] < 60


@pytest.mark.parametrize(
    ("sample", "kind", "size"),
    [
        ("rocket.jpg", "jpeg", (640, 427)),
        ("chelsea.png", "png", (451, 300)),
        ("hubble_deep_field.jpg", "jpeg", (1000, 872)),
    ],
)
async def test_scikit_image_sample_photos_are_stored_as_what_they_are(
    store: PhotoStore, sample: str, kind: str, size: tuple[int, int]
) -> None:
    photo = await store.store(attachment(sample, (SAMPLES / sample).read_bytes()))
    assert (photo.type, (photo.width, photo.height)) == (kind, size)
    assert store.path(photo.sha256) == store.folder / photo.sha256[:2] / photo.filename
    assert Image.open(store.path(photo.sha256)).size == size


async def test_the_bytes_decide_the_type_never_the_name_or_claim(store: PhotoStore) -> None:
    png = (SAMPLES / "coffee.png").read_bytes()
    photo = await store.store(attachment("coffee.jpg", png, "image/jpeg"))
    assert photo.type == "png" and photo.filename.endswith(".png")
    webp = encode(Image.open(SAMPLES / "astronaut.png"), "WEBP", quality=80)
    assert (await store.store(attachment("astronaut.png", webp, "image/png"))).type == "webp"
    with pytest.raises(PhotoRejected, match=r"`notes.jpg`: not an image \(JPEG, PNG or WebP\)"):
        await store.store(attachment("notes.jpg", b"%PDF-1.7 plainly not a jpeg", "image/jpeg"))
    with pytest.raises(PhotoRejected, match=re.escape("`fake.jpg`: could not decode the image")):
        await store.store(attachment("fake.jpg", b"\xff\xd8\xff\xe0 a jpeg's first bytes, then junk", "image/jpeg"))
    with pytest.raises(PhotoRejected, match="not an image"):
        await store.store(attachment("scan.tif", (SAMPLES / "multipage.tif").read_bytes(), "image/tiff"))


async def test_animated_images_are_refused(store: PhotoStore) -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "green", "blue")]
    apng = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
    webp = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:])
    for name, data in (("moving.png", apng), ("moving.webp", webp)):
        with pytest.raises(PhotoRejected, match="animated images are not accepted"):
            await store.store(attachment(name, data))
    with pytest.raises(PhotoRejected, match="not an image"):  # GIFs are never opened at all
        await store.store(attachment("tiny.gif", (SAMPLES / "no_time_for_that_tiny.gif").read_bytes()))
    assert stored_files(store) == []


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels: a decompression bomb's calling card."""
    data = encode(Image.new("L", (8, 8)), "PNG")
    body = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:12] + body + struct.pack(">I", zlib.crc32(body)) + data[33:]


async def test_decode_bombs_and_pixel_limits(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path, PhotoLimits(max_megapixels=0.2))
    with pytest.raises(PhotoRejected, match=re.escape("over the 0.2 megapixel limit")):
        await store.store(attachment("bomb.png", png_claiming(100_000, 100_000)))
    with pytest.raises(PhotoRejected, match=re.escape("over the 0.2 megapixel limit")):
        await store.store(attachment("wide.png", png_claiming(1000, 1000)))
    with pytest.raises(PhotoRejected, match=re.escape("over the 0.2 megapixel limit")):
        await store.store(attachment("astronaut.png", (SAMPLES / "astronaut.png").read_bytes()))
    assert stored_files(store) == []


async def test_truncated_files_could_not_be_decoded(store: PhotoStore) -> None:
    whole = (SAMPLES / "rocket.jpg").read_bytes()
    with pytest.raises(PhotoRejected, match=re.escape("`cut.jpg`: could not decode the image")):
        await store.store(attachment("cut.jpg", whole[: len(whole) // 2]))


async def test_byte_and_count_limits(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path, PhotoLimits(max_mb=0.02, max_count=2))
    big = (SAMPLES / "rocket.jpg").read_bytes()
    assert len(big) > 20_000
    with pytest.raises(AttachmentTooLarge, match=re.escape("`rocket.jpg`: over the 20 KB limit")):
        await store.store(attachment("rocket.jpg", big))
    small = encode(two_colour(), "PNG")
    with pytest.raises(BadArgument, match="`photos`: at most 2 photos, got 3"):
        await store.store_all([attachment(f"{n}.png", small) for n in range(3)])
    with pytest.raises(AttachmentTooLarge):
        store.store_bytes(big)
    assert PhotoLimits(max_mb=25).max_bytes == 25_000_000


async def test_storing_again_is_idempotent_and_one_bad_photo_stores_nothing(store: PhotoStore) -> None:
    good = (SAMPLES / "chelsea.png").read_bytes()
    first = await store.store(attachment("cat.png", good))
    again = await store.store(attachment("same-cat.png", good))
    assert first == again and stored_files(store) == [store.path(first.sha256)]
    assert store.store_bytes(good) == first
    other = encode(two_colour(), "PNG")
    with pytest.raises(PhotoRejected, match=re.escape("`b.png`: not an image")):
        await store.store_all([attachment("a.png", other), attachment("b.png", b"junk")])
    assert stored_files(store) == [store.path(first.sha256)], "nothing is written unless every photo passes"


async def test_same_pixels_with_different_metadata_share_one_file(store: PhotoStore) -> None:
    plain = encode(two_colour(), "PNG")
    tagged = encode(two_colour(), "PNG", exif=Image.Exif().tobytes(), dpi=(300, 300))
    assert plain != tagged
    assert (await store.store(attachment("a.png", plain))).sha256 == (
        await store.store(attachment("b.png", tagged))
    ).sha256


def test_paths_take_only_hashes_this_store_made(store: PhotoStore) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        store.path("../../etc/passwd")
    assert not store.exists("0" * 64)


async def test_unusual_modes_are_stored_as_plain_pixels(store: PhotoStore) -> None:
    cmyk = encode(Image.new("CMYK", (10, 10), (0, 255, 255, 0)), "JPEG")
    palette = encode(two_colour().convert("P"), "PNG")
    deep = encode(Image.new("I;16", (10, 10), 4000), "PNG")
    alpha = encode(Image.new("RGBA", (10, 10), (0, 0, 0, 0)), "WEBP", lossless=True)
    modes = []
    for name, data in (("cmyk.jpg", cmyk), ("p.png", palette), ("deep.png", deep), ("clear.webp", alpha)):
        photo = await store.store(attachment(name, data))
        modes.append(Image.open(store.path(photo.sha256)).mode)
    assert modes == ["RGB", "RGB", "L", "RGBA"]


def test_from_config_defaults_to_the_data_dir(make_config: Callable[..., Config], tmp_path: Path) -> None:
    config = make_config()
    assert PhotoStore.from_config(config).folder == config.bot.data_dir / "photos"
    assert PhotoStore.from_config(config, PhotoLimits(folder=tmp_path / "x")).folder == tmp_path / "x"


async def _legit(ctx: Context, pair: str, photos: list[Attachment]) -> Reply:
    stored = await PhotoStore(ctx.engine.config.bot.data_dir / "photos").store_all(photos)
    return Reply(text=f"{pair}: " + ", ".join(f"{p.type} {p.width}x{p.height}" for p in stored))


async def test_a_command_stores_photos_sent_with_it(sqlite_bot: TestBot) -> None:
    sqlite_bot.engine.registry.add(
        Command(
            "tlegit", "test", _legit, params=(Param("pair", "pair"), Param("photos", "x", type=ParamType.ATTACHMENTS))
        )
    )
    sam = sqlite_bot.member("sam", "telegram")
    reply = await sqlite_bot.ok(sam, "/tlegit jordan", attachments=[("side.jpg", phone_jpeg())])
    assert reply.text == "jordan: jpeg 20x40"
    await sqlite_bot.fails(sam, "/tlegit jordan", "`fake.jpg`: not an image", attachments=[("fake.jpg", b"MZ\x90")])


async def test_display_copies_are_small_jpegs_made_once(store: PhotoStore) -> None:
    photo = await store.store(attachment("hubble.jpg", (SAMPLES / "hubble_deep_field.jpg").read_bytes()))
    shown = await store.display(photo.sha256, max_side=500)
    image = Image.open(io.BytesIO(shown))
    assert (image.format, image.size) == ("JPEG", (500, 436))
    assert await store.display(photo.sha256, max_side=500) == shown
    assert store.path(photo.sha256).suffix == ".jpg" and store.path(photo.sha256).stem == photo.sha256
    small = await store.store(attachment("clear.png", encode(Image.new("RGBA", (10, 10), (0, 0, 0, 0)), "PNG")))
    flat = Image.open(io.BytesIO(await store.display(small.sha256)))
    assert (flat.mode, flat.size, flat.getpixel((5, 5))) == ("RGB", (10, 10), (255, 255, 255)), "never enlarged"
    with pytest.raises(FileNotFoundError):
        await store.display("0" * 64)
